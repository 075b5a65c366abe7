"""In-process access to named network namespaces (`ip netns` ones under /run/netns).

``setns(2)`` moves only the calling thread, and a socket keeps the namespace it was created
in: so this process can open probe sockets and write per-namespace sysctls inside a lab
node in microseconds, then return to its own namespace. Nothing here touches the host's
namespace configuration.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path

NETNS_DIR = Path("/run/netns")
"""Where `ip netns add` keeps its namespace handles."""
CLONE_NEWNET = 0x40000000

_libc = ctypes.CDLL(None, use_errno=True)


def _setns(fd: int) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"setns: {os.strerror(err)}")


def exists(name: str) -> bool:
    """Whether the named namespace exists."""
    return (NETNS_DIR / name).exists()


def inode(name: str) -> int:
    """Inode of a named namespace (what `/proc/<pid>/ns/net` of its processes points to)."""
    return os.stat(NETNS_DIR / name).st_ino


def host_links() -> set[str]:
    """Interface names of the host's own namespace (read from its sysfs, no command)."""
    try:
        return set(os.listdir("/sys/class/net"))
    except OSError:
        return set()


def cmdline(pid: int) -> str:
    """A process's command line, for messages ('?' when it is gone)."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return "?"
    return raw.replace(b"\0", b" ").decode(errors="replace").strip()[:200] or "?"


LAB_ENV = "NATTEST_LAB"
"""Environment variable every lab process carries (its lab's name): the leak marker."""


def _environ_has(pid: int, entry: bytes) -> bool:
    try:
        return entry in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return False


def pids_of_lab(name: str, inodes: set[int] = frozenset()) -> list[int]:  # type: ignore[assignment]
    """Live processes of lab `name`: inside any namespace of `inodes`, or carrying
    ``NATTEST_LAB=<name>`` in their environment (a lab process whose namespace is gone)."""
    wanted = {f"net:[{i}]" for i in inodes}
    marker = f"{LAB_ENV}={name}".encode()
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        pid = int(entry.name)
        try:
            inside = os.readlink(f"/proc/{pid}/ns/net") in wanted
        except OSError:
            continue
        if (inside or _environ_has(pid, marker)) and _alive(pid):
            found.append(pid)
    return found


def list_namespaces(prefix: str) -> list[str]:
    """Named namespaces whose name starts with `prefix`."""
    try:
        return sorted(p.name for p in NETNS_DIR.iterdir() if p.name.startswith(prefix))
    except FileNotFoundError:
        return []


def enter(name: str) -> None:
    """Move this thread into namespace `name` for good (a freshly forked child)."""
    target = os.open(NETNS_DIR / name, os.O_RDONLY)
    try:
        _setns(target)
    finally:
        os.close(target)


@contextlib.contextmanager
def entered(name: str) -> Iterator[None]:
    """Run the body with this thread inside namespace `name`; always come back."""
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        enter(name)
        try:
            yield
        finally:
            _setns(own)
    finally:
        os.close(own)


def open_socket(
    name: str, family: int = socket.AF_INET, type: int = socket.SOCK_DGRAM
) -> socket.socket:
    """A socket that lives in namespace `name`."""
    with entered(name):
        return socket.socket(family, type)


def write_sysctls(name: str, values: dict[str, str]) -> None:
    """Write `net/...` sysctls (paths below /proc/sys) inside namespace `name`."""
    with entered(name):
        for key, value in values.items():
            path = Path("/proc/sys") / key.replace(".", "/")
            path.write_text(value)


def pids_in(names: list[str]) -> list[int]:
    """PIDs of processes living in any of the named namespaces (like `ip netns pids`)."""
    wanted = set()
    for name in names:
        try:
            wanted.add(f"net:[{os.stat(NETNS_DIR / name).st_ino}]")
        except FileNotFoundError:
            continue
    if not wanted:
        return []
    pids = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                if os.readlink(f"/proc/{entry.name}/ns/net") in wanted:
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError as e:
        return e.errno == errno.EPERM
    # a zombie is dead for our purposes
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def terminate(pids: list[int], grace: float = 0.3) -> list[int]:
    """SIGTERM the given PIDs, SIGKILL the survivors after `grace` seconds. Returns killed."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    left = [p for p in pids if _alive(p)]
    while left and time.monotonic() < deadline:
        time.sleep(0.01)
        left = [p for p in left if _alive(p)]
    for pid in left:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return left
