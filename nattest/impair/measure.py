"""What a link really does: a paced UDP stream between two nodes of a lab, measured.

Each datagram carries its sequence number and its send time (``CLOCK_MONOTONIC``, one clock
for every namespace of the machine), so the receiver sees each packet's one-way delay, and
which were lost, duplicated or overtaken. Used by ``bench/impair.py`` and the lab tests of
impairments; the sockets are opened in the nodes from this process (``Lab.socket``).
"""

from __future__ import annotations

import os
import select
import socket
import statistics
import struct
import time
from dataclasses import dataclass, field

from nattest.backends.base import Lab

HEADER = struct.Struct("!Id")
"""Sequence number, send time."""
WIRE_OVERHEAD = 14 + 20 + 8
"""Bytes an Ethernet frame adds to a UDP payload (Ethernet, IPv4, UDP headers)."""
PORT = 40999
"""Receiver port."""


@dataclass
class Stream:
    """What the receiver saw of one stream."""

    sent: int
    """Datagrams sent."""
    size: int
    """Payload bytes of each."""
    delays: list[float] = field(default_factory=list)
    """One-way delay of each first copy received, seconds, in arrival order."""
    received: set[int] = field(default_factory=set)
    """Sequence numbers received."""
    duplicates: int = 0
    """Copies received of a sequence number already seen."""
    reordered: int = 0
    """Packets that overtook: arrived before some earlier-sent packet did."""
    first: float = 0.0
    """Arrival time of the first packet."""
    last: float = 0.0
    """Arrival time of the last packet."""

    @property
    def loss(self) -> float:
        """Percent of datagrams never received."""
        return 100.0 * (self.sent - len(self.received)) / self.sent if self.sent else 0.0

    def delay_percentile(self, q: float) -> float:
        """The q-quantile (0..1) of the one-way delays, seconds."""
        if not self.delays:
            return float("nan")
        ordered = sorted(self.delays)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    @property
    def median_delay(self) -> float:
        """Median one-way delay, seconds."""
        return statistics.median(self.delays) if self.delays else float("nan")

    @property
    def wire_rate(self) -> float:
        """Received bit/s on the wire (Ethernet frames), first to last arrival."""
        span = self.last - self.first
        if span <= 0 or len(self.received) < 2:
            return 0.0
        return (len(self.received) + self.duplicates - 1) * (self.size + WIRE_OVERHEAD) * 8 / span


def stream(
    lab: Lab,
    src: str,
    dst: str,
    *,
    pps: float = 1000.0,
    count: int = 1000,
    size: int = 200,
    settle: float = 1.0,
) -> Stream:
    """Send `count` datagrams of `size` bytes from `src` to `dst` at `pps` a second and
    return what `dst` received (waiting `settle` seconds past the last send).

    The receiver is a forked child process, so sending and receiving never wait on each
    other's interpreter lock (threads would add milliseconds of delay)."""
    dst_addr = lab.address(dst)
    rx = lab.socket(dst)
    tx = lab.socket(src)
    try:
        rx.bind((dst_addr, PORT))
        rx.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        result = Stream(sent=count, size=max(size, HEADER.size))
        reader, writer = os.pipe()
        stop_r, stop_w = os.pipe()
        pid = os.fork()
        if pid == 0:  # the receiver
            os.close(reader)
            os.close(stop_w)
            code = 0
            try:
                _receive(rx, stop_r, writer)
            except BaseException:
                code = 1
            os._exit(code)
        os.close(writer)
        os.close(stop_r)
        rx.close()
        payload = bytes(result.size - HEADER.size)
        interval = 1.0 / pps
        start = time.monotonic()
        for seq in range(count):
            wait = start + seq * interval - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            tx.sendto(HEADER.pack(seq, time.monotonic()) + payload, (dst_addr, PORT))
        time.sleep(settle)
        os.write(stop_w, b"x")
        os.close(stop_w)
        with os.fdopen(reader, "rb") as f:
            data = f.read()
        os.waitpid(pid, 0)
        _tally(result, data)
        return result
    finally:
        rx.close()
        tx.close()


RECORD = struct.Struct("!Idd")
"""What the receiver reports per datagram: sequence, send time, arrival time."""


def _receive(sock: socket.socket, stop: int, out: int) -> None:
    records = bytearray()
    while True:
        ready, _, _ = select.select([sock.fileno(), stop], [], [])
        if stop in ready:
            break
        while True:
            try:
                data = sock.recv(65536, socket.MSG_DONTWAIT)
            except BlockingIOError:
                break
            now = time.monotonic()
            seq, sent_at = HEADER.unpack_from(data)
            records += RECORD.pack(seq, sent_at, now)
    view = memoryview(records)
    while view:
        view = view[os.write(out, view) :]
    os.close(out)


def _tally(result: Stream, data: bytes) -> None:
    order = []
    for seq, sent_at, now in RECORD.iter_unpack(data):
        if seq in result.received:
            result.duplicates += 1
            continue
        if not result.received:
            result.first = now
        result.last = now
        result.received.add(seq)
        result.delays.append(now - sent_at)
        order.append(seq)
    lowest_later = float("inf")
    for seq in reversed(order):  # an overtaker arrived before a lower sequence number
        if seq > lowest_later:
            result.reordered += 1
        lowest_later = min(lowest_later, seq)


__all__ = ["Stream", "stream"]
