"""What every command shares: the consoles, error handling, common options."""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import wraps
from typing import TYPE_CHECKING, Any, TypeVar

import click

from nattest.errors import NattestError

if TYPE_CHECKING:
    from rich.console import Console

F = TypeVar("F", bound=Callable[..., Any])


class _LazyConsole:
    """A rich Console made on first use: `nattest down` prints plain lines and never pays
    for importing rich."""

    def __init__(self, stderr: bool = False) -> None:
        self._stderr = stderr
        self._console: Console | None = None

    @property
    def real(self) -> Console:
        """The Console itself (to hand to rich: a proxy is not a Console)."""
        if self._console is None:
            from rich.console import Console

            self._console = Console(stderr=self._stderr)
        return self._console

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


def escape(text: str) -> str:
    """Text made safe for rich markup (rich imported when first needed)."""
    from rich.markup import escape as rich_escape

    return rich_escape(text)


out = _LazyConsole()
"""stdout; `out.print(...)`, and `out.real` where a Console is handed to rich."""
err = _LazyConsole(stderr=True)
"""stderr, likewise."""


def handle_errors(fn: F) -> F:
    """Turn NattestError into `error: ...` and its exit code; no traceback."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except NattestError as e:
            # the message is text, not markup: `[alice] ...` must print as it is
            err.print(f"[bold red]error:[/] {escape(str(e))}", highlight=False, soft_wrap=True)
            sys.exit(e.exit_code)
        except KeyboardInterrupt:
            err.print("interrupted: lab torn down")
            sys.exit(130)

    return wrapper  # type: ignore[return-value]


def backend_option(fn: F) -> F:
    """`--backend NAME` (default: $NATTEST_BACKEND, else netns)."""
    return click.option(
        "--backend",
        envvar="NATTEST_BACKEND",
        help="How the lab is built (default: netns); `nattest plugins` lists the backends.",
    )(fn)


def peer_kind_options(fn: F) -> F:
    """`--caller KIND` and `--callee KIND`: the peer kind of each side."""
    for side in ("callee", "caller"):
        fn = click.option(
            f"--{side}",
            f"{side}_kind",
            default="aiortc",
            show_default=True,
            help=f"Peer kind of the {side}; `nattest plugins` lists them.",
        )(fn)
    return fn
