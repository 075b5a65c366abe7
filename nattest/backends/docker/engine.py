"""The Docker engine, through the Docker SDK: the one module that imports ``docker``.

Every way the engine can be unusable is a UsageError (exit 2) saying what to run: no SDK,
a remote ``DOCKER_HOST`` (this backend wires the containers' network namespaces, so it needs
the engine's own kernel), no socket, no permission, an engine that does not answer, an image
that is not there (nattest never pulls: no registry may be reachable).
"""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Iterator
from functools import cache
from typing import Any

from nattest.errors import UsageError

SOCKET = "/var/run/docker.sock"
TIMEOUT = 10
"""Seconds for one engine API call."""


def socket_path() -> str:
    """The engine's unix socket (``DOCKER_HOST=unix://...`` or the default); UsageError for
    any other DOCKER_HOST."""
    host = os.environ.get("DOCKER_HOST", "")
    if not host:
        return SOCKET
    if not host.startswith("unix://"):
        raise UsageError(
            f"DOCKER_HOST={host} is a remote engine: the docker backend wires the "
            "containers' network namespaces, so it needs the engine on this kernel "
            "(unset DOCKER_HOST or point it at a unix:// socket)"
        )
    return host[len("unix://") :]


@cache
def client() -> Any:
    """A connected ``docker.DockerClient`` (UsageError naming what to do otherwise)."""
    path = socket_path()
    try:
        import docker.errors  # binds `docker` too
    except ImportError as e:
        raise UsageError(
            "the docker backend needs the Docker SDK: pip install 'nattest[docker]' "
            "(make deps-docker)"
        ) from e
    if not os.path.exists(path):
        raise UsageError(f"no Docker engine at {path}: run `make docker-up`")
    if not os.access(path, os.R_OK | os.W_OK):
        raise UsageError(f"permission denied on {path}: run as root")
    try:
        c = docker.DockerClient(base_url=f"unix://{path}", timeout=TIMEOUT)  # type: ignore[attr-defined]
        c.ping()
    except (docker.errors.DockerException, OSError) as e:
        raise UsageError(
            f"the Docker engine at {path} does not answer ({type(e).__name__}): start it "
            "(`make docker-up`; a hung one: stop dockerd first), then `nattest down --all`"
        ) from e
    return c


class EngineNotAnswering(UsageError):
    """The engine stopped answering in the middle of a run (exit 2): what nattest was
    doing, and how to recover. What the engine could not remove stays recorded, so
    ``nattest down --all`` collects it once the engine is back."""

    def __init__(self, doing: str, cause: BaseException) -> None:
        super().__init__(
            f"the Docker engine at {socket_path()} stopped answering ({doing}: "
            f"{type(cause).__name__}, no reply within {TIMEOUT} s): restart it "
            "(stop dockerd, then `make docker-up`), then run `nattest down --all`"
        )


@contextlib.contextmanager
def answering(doing: str) -> Iterator[None]:
    """Turn the engine's silence (a read timeout, a dropped connection) inside the body
    into one EngineNotAnswering naming `doing`; API errors pass through unchanged."""
    import requests.exceptions

    try:
        yield
    except (requests.exceptions.Timeout, requests.exceptions.ConnectionError) as e:
        raise EngineNotAnswering(doing, e) from e


def available() -> bool:
    """Whether an engine runs here that may hold containers of ours: the SDK imports and
    something listens on the socket (False on a namespaces-only machine, or with a stale
    socket file of a stopped engine; never raises)."""
    try:
        path = socket_path()
        import docker  # noqa: F401
    except (UsageError, ImportError):
        return False
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(1.0)
        try:
            probe.connect(path)
        except OSError:
            return False
    return True


def __getattr__(name: str) -> Any:
    """``engine.NotFound``: the SDK's "no such object", imported when first asked for."""
    if name == "NotFound":
        import docker.errors

        return docker.errors.NotFound
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def require_image(ref: str) -> None:
    """UsageError when image `ref` is not in the engine (never pulled)."""
    import docker.errors

    try:
        client().images.get(ref)
    except docker.errors.ImageNotFound as e:
        raise UsageError(
            f"image {ref} is not in the Docker engine: run `make docker-images` "
            "(nattest never pulls an image)"
        ) from e


__all__ = [
    "SOCKET",
    "EngineNotAnswering",
    "answering",
    "available",
    "client",
    "require_image",
    "socket_path",
]
