"""The Docker engine, through the Docker SDK: the one module that imports ``docker``.

Every way the engine can be unusable is a UsageError (exit 2) saying what to run: no SDK,
a remote ``DOCKER_HOST`` (this backend wires the containers' network namespaces, so it needs
the engine's own kernel), no socket, no permission, an engine that does not answer, an image
that is not there (nattest never pulls: no registry may be reachable).
"""

from __future__ import annotations

import os
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
        raise UsageError(f"the Docker engine at {path} does not answer: {e}") from e
    return c


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


__all__ = ["SOCKET", "client", "require_image", "socket_path"]
