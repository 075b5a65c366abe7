"""``python -m nattest.impair.shaper --config F``: the user-space half of a link impairment.

Runs inside a wire namespace (``nattest.backends.wires``) and takes the packets its NFQUEUE
rules hand over, one queue per direction: each is dropped (loss in bursts, a
Gilbert–Elliott model), released after its delay (plus normally distributed jitter, clipped
at 0), released at once (reordering: it overtakes the delayed ones), or released and sent a
second time (duplication, through a raw socket of the wire). Rate and random loss stay in
the kernel (tbf, nftables), so this only holds packets.

The config is JSON (``wires.shaper_config``). The shaper re-reads it when it changes (a
live ``nattest impair``) and writes ``<config>.applied`` with the generation it runs, so a
caller can wait for a change to take effect. It uses ``fnfqueue`` (cffi over
nfnetlink_queue: no C library to build, a wheel for CPython 3.11). Exit: SIGTERM.
"""

from __future__ import annotations

import argparse
import heapq
import json
import logging
import os
import random
import signal
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

WARM_IMPORTS = ("fnfqueue",)
"""Imported by the fork server before the first start (``backends/netns/zygote``)."""
POLL = 0.05
"""Seconds between checks of the config file."""
QUEUE_MAXLEN = 8192
"""Packets the kernel may hold for this shaper before it passes them unshaped."""
NICENESS = -10
"""The shaper's scheduling priority: it stands in for a kernel qdisc (netem runs in
softirq context), so peers that keep the cores busy must not delay its releases (a CI run
of 4 workers starting peers cold in containers put +10 ms on a 40 ms delay at nice 0).
It only holds packets and sleeps on its timers, so it cannot starve anything."""

log = logging.getLogger("nattest.impair.shaper")


@dataclass
class Rules:
    """What one direction does (the `directions.<name>` entry of the config)."""

    delay: float = 0.0
    """Seconds added."""
    jitter: float = 0.0
    """Standard deviation of the delay, seconds."""
    duplicate: float = 0.0
    """Probability of a second copy."""
    reorder: float = 0.0
    """Probability of skipping the delay."""
    burst_p: float = 0.0
    """Gilbert–Elliott P(good → bad) per packet (0: no burst loss)."""
    burst_r: float = 0.0
    """Gilbert–Elliott P(bad → good) per packet."""

    @classmethod
    def from_config(cls, entry: dict[str, Any]) -> Rules:
        """The rules of one config entry (unknown keys ignored: queue, output, active)."""
        return cls(**{k: float(entry.get(k, 0.0)) for k in cls.__dataclass_fields__})


class Direction:
    """One direction's decisions: for each packet, when (and how often) it is released."""

    def __init__(self, name: str, rules: Rules, rng: random.Random) -> None:
        self.name = name
        self.rules = rules
        self.rng = rng
        self.bad = False
        """Gilbert–Elliott state: True while in a loss burst."""
        self.counts = {"seen": 0, "dropped": 0, "duplicated": 0, "reordered": 0}

    def decide(self, now: float) -> list[float]:
        """Release times of this packet's copies: [] drops it, two entries duplicate it."""
        r, rng = self.rules, self.rng
        self.counts["seen"] += 1
        if r.burst_p or r.burst_r:
            self.bad = rng.random() >= r.burst_r if self.bad else rng.random() < r.burst_p
            if self.bad:
                self.counts["dropped"] += 1
                return []
        if r.reorder and rng.random() < r.reorder:
            self.counts["reordered"] += 1
            release = now
        else:
            delay = rng.gauss(r.delay, r.jitter) if r.jitter else r.delay
            release = now + max(delay, 0.0)
        if r.duplicate and rng.random() < r.duplicate:
            self.counts["duplicated"] += 1
            return [release, release]
        return [release]


class Shaper:
    """The queues of one wire, their pending packets and the release thread."""

    def __init__(self, config: Path) -> None:
        self.config = config
        self.directions: dict[int, Direction] = {}
        self.pending: list[tuple[float, int, Any, bool]] = []
        """Heap of (release time, sequence, packet, also send a copy)."""
        self.cond = threading.Condition()
        self.seq = 0
        self.stopping = threading.Event()
        self.raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
        self.generation = -1
        self.mtime = 0.0

    def load(self) -> None:
        """(Re)read the config, then say so (``<config>.applied``); keep each direction's
        burst state across a reload."""
        self.mtime = self.config.stat().st_mtime
        cfg = json.loads(self.config.read_text())
        rng = random.Random(cfg.get("seed"))
        for name, entry in cfg["directions"].items():
            queue, rules = int(entry["queue"]), Rules.from_config(entry)
            if queue in self.directions:
                self.directions[queue].rules = rules
            else:
                self.directions[queue] = Direction(name, rules, rng)
        self.generation = int(cfg.get("generation", 0))
        applied = self.config.with_name(self.config.name + ".applied")
        tmp = applied.with_name(applied.name + ".tmp")
        tmp.write_text(json.dumps({"generation": self.generation, "pid": os.getpid()}))
        tmp.replace(applied)
        log.info("%s: generation %d", cfg.get("link", "?"), self.generation)

    @staticmethod
    def bind(queue: int) -> Any:
        """An fnfqueue connection bound to `queue`, copying whole packets."""
        import fnfqueue

        conn = fnfqueue.Connection()
        q = conn.bind(queue)
        q.set_mode(fnfqueue.MAX_PAYLOAD, fnfqueue.COPY_PACKET)
        q.set_maxlen(QUEUE_MAXLEN)
        q.fail_open = True
        return conn

    def reader(self, queue: int, conn: Any) -> None:
        """Take one queue's packets and schedule them (runs in its own thread)."""
        direction = self.directions[queue]
        try:
            for packet in conn:
                now = time.monotonic()
                times = direction.decide(now)
                if not times:
                    packet.drop()
                    continue
                if times[0] <= now and len(times) == 1:
                    packet.accept()
                    continue
                with self.cond:
                    self.seq += 1
                    heapq.heappush(self.pending, (times[0], self.seq, packet, len(times) > 1))
                    self.cond.notify()
        except Exception:  # the shaper keeps the other direction going
            if not self.stopping.is_set():
                log.exception("queue %d failed", queue)
        finally:
            conn.close()

    def releaser(self) -> None:
        """Release held packets when due (runs in its own thread)."""
        while not self.stopping.is_set():
            with self.cond:
                while not self.pending or self.pending[0][0] > time.monotonic():
                    timeout = self.pending[0][0] - time.monotonic() if self.pending else POLL
                    self.cond.wait(max(timeout, 0.0))
                    if self.stopping.is_set():
                        return
                _, _, packet, copy = heapq.heappop(self.pending)
            payload = packet.payload if copy else b""
            packet.accept()
            if copy:
                self._send_copy(payload)

    def _send_copy(self, payload: bytes) -> None:
        dst = socket.inet_ntoa(payload[16:20])
        try:
            self.raw.sendto(payload, (dst, 0))
        except OSError as e:
            log.warning("duplicate to %s not sent: %s", dst, e)

    def run(self) -> None:
        """Serve both queues until SIGTERM, re-reading the config when it changes. The
        queues are bound before the config is reported applied: from then on no packet
        passes unshaped."""
        cfg = json.loads(self.config.read_text())
        conns = {int(e["queue"]): self.bind(int(e["queue"])) for e in cfg["directions"].values()}
        self.load()
        threads = [threading.Thread(target=self.releaser, daemon=True)]
        threads += [
            threading.Thread(target=self.reader, args=(q, c), daemon=True) for q, c in conns.items()
        ]
        for t in threads:
            t.start()
        while not self.stopping.wait(POLL):
            try:
                if self.config.stat().st_mtime != self.mtime:
                    self.load()
            except (OSError, ValueError, KeyError) as e:
                log.warning("config %s not applied: %s", self.config, e)
        with self.cond:
            self.cond.notify_all()
        for d in self.directions.values():
            log.info("%s: %s", d.name, d.counts)


def main(argv: list[str] | None = None) -> int:
    """Run the shaper of one wire (see the module docstring)."""
    parser = argparse.ArgumentParser(prog="python -m nattest.impair.shaper")
    parser.add_argument("--config", required=True, type=Path, help="the wire's JSON config")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if os.environ.get("NATTEST_DEBUG") == "1" else logging.INFO,
        format="%(asctime)s shaper %(message)s",
    )
    try:
        os.setpriority(os.PRIO_PROCESS, 0, NICENESS)  # before its threads: they inherit it
    except OSError as e:  # not root: keep going, less exact under load
        log.warning("priority %d not set: %s", NICENESS, e)
    shaper = Shaper(args.config)
    signal.signal(signal.SIGTERM, lambda *_: shaper.stopping.set())
    signal.signal(signal.SIGINT, lambda *_: shaper.stopping.set())
    shaper.run()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
