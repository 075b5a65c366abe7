"""Packet capture in every node of a lab: one ``tcpdump`` per node, one pcap per node.

    capture = start_capture(lab)              # returns once every tcpdump really captures
    ...                                       # the call
    pcaps = capture.stop()                    # SIGTERM: each tcpdump flushes and closes

Each tcpdump runs *inside its node's network* as a lab process (``Lab.spawn_observer``: the
host's tcpdump in the node's network namespace, also for a container; it carries
``NATTEST_LAB`` and teardown stops it by PID if nobody else did), on ``-i any``: every
interface of that node in one Linux cooked v2 capture (``LINUX_SLL2``), which records the
interface index and direction of each packet (Wireshark: ``sll.ifindex``,
``sll.pkttype``), so a router's pcap shows a packet on its LAN side and again, translated,
on its WAN side. ``interfaces_text`` maps the indexes to names. Nothing is captured in the
host's own namespace. ``--immediate-mode`` hands each packet to tcpdump at once (without
it, packets wait up to a second in the kernel's ring and a stop loses them) and ``-U``
writes each packet to the file as it arrives, so a pcap can be read while it grows.
"""

from __future__ import annotations

import logging
import re
import shutil
import stat
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from nattest.backends.base import Lab, Process
from nattest.errors import LabError, NattestError, UsageError

log = logging.getLogger("nattest.evidence")

PCAP_HEADER = 24
"""Bytes of a pcap file header (libpcap format): tcpdump writes it once it captures."""
READY_TIMEOUT = 5.0
"""Seconds a tcpdump may take to start capturing."""
STOP_TIMEOUT = 2.0
"""Seconds a tcpdump may take to flush and exit after SIGTERM (then SIGKILL)."""
POLL = 0.005
"""Seconds between readiness checks."""
SNAPLEN = 65535
"""Bytes kept per packet: a whole IP packet, also a TCP segment the kernel merged (GSO)."""
BUFFER_KIB = 4096
"""Kernel ring per tcpdump. Immediate mode sizes each ring slot after the snapshot length:
with tcpdump's defaults (256 KiB packets, 2 MiB ring) only 8 packets fit and a video frame's
burst overflowed it (≈ 5% dropped, measured); 64 KiB × 4 MiB drops none here."""


def tcpdump_argv(pcap: Path) -> list[str]:
    """The tcpdump command line of one node (pure)."""
    return [
        "tcpdump",
        "-i",
        "any",
        "-y",
        "LINUX_SLL2",
        "--immediate-mode",
        "-s",
        str(SNAPLEN),
        "-B",
        str(BUFFER_KIB),
        "-U",
        "-n",
        "-w",
        str(pcap),
    ]


def check_capture() -> None:
    """UsageError naming what to install when capturing cannot work here: every backend
    runs the host's tcpdump in its nodes' network namespaces (``Lab.spawn_observer``)."""
    if shutil.which("tcpdump") is None:
        raise UsageError("--capture needs tcpdump: apt-get install tcpdump (or make deps)")


@dataclass
class NodeCapture:
    """One node's tcpdump."""

    node: str
    """Topology name of the node."""
    pcap: Path
    """Where the packets go."""
    log: Path
    """tcpdump's stderr ("listening on ...", then its packet counts)."""
    proc: Process
    """The tcpdump process (a lab process)."""

    def counts(self) -> dict[str, int]:
        """tcpdump's closing figures: captured, received by filter, dropped by kernel."""
        return parse_counts(_read(self.log))


@dataclass
class Capture:
    """The tcpdumps of one lab; ``stop()`` them before the lab goes down."""

    lab: Lab
    """The lab being captured."""
    folder: Path
    """Folder of the pcaps (`<node>.pcap`) and tcpdump logs (`<node>.tcpdump.log`)."""
    nodes: list[NodeCapture] = field(default_factory=list)
    """One per captured node, in topology order."""
    stopped: bool = False
    """True once ``stop()`` ran."""

    def pcaps(self) -> list[Path]:
        """The pcap files, one per node."""
        return [n.pcap for n in self.nodes]

    def stop(self) -> list[Path]:
        """SIGTERM every tcpdump and wait until each has flushed its pcap and exited
        (SIGKILL after ``STOP_TIMEOUT``: the pcap then ends at its last whole packet).
        Idempotent; returns the pcaps."""
        if self.stopped:
            return self.pcaps()
        self.stopped = True
        for n in self.nodes:
            if n.proc.poll() is None:
                n.proc.terminate()
        for n in self.nodes:
            try:
                n.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                log.warning("[%s] tcpdump did not exit on SIGTERM; killed", n.node)
                n.proc.kill()
                n.proc.wait()
            dropped = n.counts().get("dropped by kernel", 0)
            if dropped:
                log.warning("[%s] tcpdump: %d packets dropped by the kernel", n.node, dropped)
        return self.pcaps()

    def interfaces_text(self) -> str:
        """`ip -o link` of every captured node, as `ifindex name` lines: what the
        `sll.ifindex` of a packet means (the pcap holds indexes, not names)."""
        lines = ["# node: ifindex interface (the pcaps' Linux cooked v2 header: sll.ifindex)"]
        for n in self.nodes:
            try:
                out = self.lab.exec(n.node, ["ip", "-o", "link", "show"], timeout=5.0).stdout
            except NattestError as e:  # the node is gone: say so, keep the rest
                lines.append(f"{n.node}: ({e})")
                continue
            pairs = parse_links(out)
            lines.append(f"{n.node}: " + ", ".join(f"{i} {name}" for i, name in pairs))
        return "\n".join(lines) + "\n"

    def __enter__(self) -> Capture:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_capture(lab: Lab, folder: Path | None = None, nodes: list[str] | None = None) -> Capture:
    """Start tcpdump in every node of `lab` (or `nodes`), writing `<folder>/<node>.pcap`
    (default folder: `<lab workdir>/pcap`); return once each one really captures (its pcap
    header is on disk). LabError naming the node and tcpdump's words when one cannot
    start; the ones already started are stopped."""
    folder = folder or lab.workdir / "pcap"
    folder.mkdir(parents=True, exist_ok=True)
    capture = Capture(lab, folder)
    try:
        for node in nodes or lab.topology.nodes():
            pcap, errlog = folder / f"{node}.pcap", folder / f"{node}.tcpdump.log"
            with errlog.open("wb") as stderr:
                proc = lab.spawn_observer(node, tcpdump_argv(pcap), stderr)
            capture.nodes.append(NodeCapture(node, pcap, errlog, proc))
        _wait_ready(capture)
    except BaseException:
        capture.stop()
        raise
    log.debug("capturing in %s: %s", lab.name, ", ".join(n.node for n in capture.nodes))
    return capture


def _wait_ready(capture: Capture) -> None:
    """Poll until every pcap has its header: tcpdump writes it after its socket is open."""
    pending = list(capture.nodes)
    deadline = time.monotonic() + READY_TIMEOUT
    while pending:
        for n in list(pending):
            code = n.proc.poll()
            if code is not None:
                tail = _read(n.log).strip().splitlines()[-3:]
                raise LabError(f"[{n.node}] tcpdump exited {code}: {' '.join(tail) or '?'}")
            if _size(n.pcap) >= PCAP_HEADER:
                pending.remove(n)
        if pending and time.monotonic() > deadline:
            names = ", ".join(n.node for n in pending)
            raise LabError(f"tcpdump not capturing after {READY_TIMEOUT} s in {names}")
        if pending:
            time.sleep(POLL)


_COUNT = re.compile(r"^(\d+) packets? (captured|received by filter|dropped by kernel)$", re.M)
_LINK = re.compile(r"^(\d+): ([^:@\s]+)", re.M)


def parse_counts(text: str) -> dict[str, int]:
    """tcpdump's closing lines (`12 packets captured`, ...) as {what: number} (pure)."""
    return {what: int(n) for n, what in _COUNT.findall(text)}


def parse_links(text: str) -> list[tuple[int, str]]:
    """`ip -o link` output as (ifindex, name) pairs, `eth0@if12` read as `eth0` (pure)."""
    return [(int(i), name) for i, name in _LINK.findall(text)]


def _size(path: Path) -> int:
    """Bytes in a regular file; 0 when it is missing or not a file."""
    try:
        st = path.stat()
    except OSError:
        return 0
    return st.st_size if stat.S_ISREG(st.st_mode) else 0


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


__all__ = [
    "Capture",
    "NodeCapture",
    "check_capture",
    "parse_counts",
    "parse_links",
    "start_capture",
    "tcpdump_argv",
]
