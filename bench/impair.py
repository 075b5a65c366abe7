#!/usr/bin/env python3
"""How exactly impaired links do what they are asked: delay, loss, rate and throughput.

Builds one two-peer lab (no services), impairs alice's link with `Lab.impair` (the wire and
its shaper stay; each setting is a live change) and measures with paced UDP streams from
alice to bob (``nattest.impair.measure``). Prints, per setting, the asked and measured values.

Targets (issue 10): delay 10–200 ms within ±2 ms median and ±5 ms p95 at 1,000 packets/s;
loss within ±1 point over 10,000 packets; rate within ±5 %; ≥ 20 Mbit/s through an
impaired link.

Usage: bench/impair.py [--quick]
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nattest.impair.measure import stream
from nattest.lab import build_lab
from nattest.model.configs import pair_topology
from nattest.model.impair import parse_impairment

LINK = "alice"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer packets (a smoke run)")
    args = ap.parse_args()
    scale = 0.2 if args.quick else 1.0
    topo = pair_topology("open", "open").with_impairment(LINK, parse_impairment("none"))
    lab = build_lab(topo, services=False, stem="bench-impair")
    try:
        base = stream(lab, "alice", "bob", count=int(1000 * scale))
        print(f"baseline (wire, nothing asked): median one-way {base.median_delay * 1e3:.3f} ms")
        print("\ndelay at 1,000 packets/s (egress of alice's link)")
        print(f"{'asked':>8} {'median':>9} {'p95':>9} {'err med':>8} {'err p95':>8}  target")
        for ms in (10, 50, 100, 200):
            lab.impair(LINK, parse_impairment(f"egress.delay:{ms}ms"))
            s = stream(lab, "alice", "bob", count=int(2000 * scale), settle=0.5 + ms / 1000)
            med, p95 = s.median_delay * 1e3, s.delay_percentile(0.95) * 1e3
            ok = abs(med - ms) <= 2 and abs(p95 - ms) <= 5
            print(
                f"{ms:>6}ms {med:>7.2f}ms {p95:>7.2f}ms {med - ms:>+7.2f} {p95 - ms:>+8.2f}  "
                f"{'met' if ok else 'NOT met'}"
            )
        print("\njitter, duplication, reordering (shaper), 2,000 packets at 1,000/s")
        for spec in ("delay:50ms,jitter:10ms", "duplicate:5%", "delay:20ms,reorder:10%"):
            lab.impair(LINK, parse_impairment(",".join(f"egress.{x}" for x in spec.split(","))))
            s = stream(lab, "alice", "bob", count=int(2000 * scale), settle=0.5)
            sd = statistics.pstdev(s.delays) * 1e3 if len(s.delays) > 1 else 0.0
            print(
                f"  {spec:24} median {s.median_delay * 1e3:6.2f} ms, stdev {sd:5.2f} ms, "
                f"duplicates {100 * s.duplicates / s.sent:4.1f}%, "
                f"overtaken {100 * s.reordered / s.sent:4.1f}%"
            )
        print("\nrandom loss over 10,000 packets (nftables numgen) and in bursts (shaper)")
        for spec in ("loss:1%", "loss:5%", "loss:20%", "loss:5%,burst:4"):
            lab.impair(LINK, parse_impairment(f"egress.{spec.replace(',', ',egress.')}"))
            s = stream(lab, "alice", "bob", pps=5000, count=int(10000 * scale), settle=0.3)
            asked = float(spec.split(":")[1].split("%")[0])
            ok = abs(s.loss - asked) <= 1
            print(f"  {spec:16} measured {s.loss:6.2f}%  {'met' if ok else 'NOT met'}")
        print("\nrate limit (tbf): UDP offered at 1.5x, received on the wire")
        for rate in ("1mbit", "10mbit"):
            lab.impair(LINK, parse_impairment(f"egress.rate:{rate}"))
            bps = int(rate.removesuffix("mbit")) * 1e6
            size = 1200
            pps = 1.5 * bps / ((size + 42) * 8)
            s = stream(lab, "alice", "bob", pps=pps, count=int(pps * 3 * scale), size=size)
            ok = abs(s.wire_rate - bps) <= 0.05 * bps
            print(
                f"  {rate:8} measured {s.wire_rate / 1e6:6.2f} Mbit/s "
                f"({100 * (s.wire_rate / bps - 1):+.1f}%)  {'met' if ok else 'NOT met'}"
            )
        print("\nthroughput through the shaper (delay 10ms, UDP offered at 40 Mbit/s)")
        lab.impair(LINK, parse_impairment("egress.delay:10ms"))
        size = 1400
        pps = 40e6 / ((size + 42) * 8)
        s = stream(lab, "alice", "bob", pps=pps, count=int(pps * 2 * scale), size=size)
        ok = s.wire_rate >= 20e6
        print(
            f"  {s.wire_rate / 1e6:.1f} Mbit/s received, loss {s.loss:.2f}%  "
            f"target ≥ 20 Mbit/s: {'met' if ok else 'NOT met'}"
        )
    finally:
        lab.down()


if __name__ == "__main__":
    main()
