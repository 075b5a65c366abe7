"""Baseline for bench/call.py: two aiortc peers in one process, no signaling server.

The offer and answer are handed over directly (after ``--delay`` seconds each, the lab
signaling server's one-way delay, so both sides of the comparison carry it), so the figure
is aiortc/aioice alone:
seconds from the offer being ready (gathered, set locally) to both peers' ICE
``completed`` (aiortc has no ``connected`` ICE state). Same media and configuration as the
agent (tone + test pattern, ``metadata`` data channel, max-bundle, explicit ICE servers).

Run it inside a lab namespace, so the host candidate is a lab address (aioice never uses
127.0.0.1)::

    ip netns exec <node> .venv/bin/python bench/inprocess_call.py --runs 5 [--stun stun:IP:PORT]

Prints one line per run and the median, in milliseconds.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time

from aiortc import RTCConfiguration, RTCIceServer, RTCPeerConnection
from aiortc.rtcconfiguration import RTCBundlePolicy, RTCIceTransportPolicy

from nattest.peers.aiortc.media import PatternTrack, ToneTrack


async def _wait_ice(pcs: tuple[RTCPeerConnection, ...], timeout: float) -> None:
    done = asyncio.Event()

    def check() -> None:
        if all(pc.iceConnectionState in ("connected", "completed") for pc in pcs):
            done.set()

    for pc in pcs:
        pc.on("iceconnectionstatechange", check)
    check()
    await asyncio.wait_for(done.wait(), timeout)


async def inprocess_call(
    ice_servers: list[RTCIceServer] | None = None,
    timeout: float = 10.0,
    relay: bool = False,
    delay: float = 0.0,
) -> float:
    """One call between two in-process peers; seconds from offer to both ICE completed.

    ``ice_servers`` defaults to none (an explicit empty list: aiortc would otherwise add a
    public STUN server). Raises TimeoutError when ICE does not complete within ``timeout``.
    """
    config = RTCConfiguration(
        iceServers=list(ice_servers or []),
        bundlePolicy=RTCBundlePolicy.MAX_BUNDLE,
        iceTransportPolicy=RTCIceTransportPolicy.RELAY if relay else RTCIceTransportPolicy.ALL,
    )
    caller, callee = RTCPeerConnection(config), RTCPeerConnection(config)
    tracks = [ToneTrack(), PatternTrack(), ToneTrack(), PatternTrack()]
    try:
        caller.addTrack(tracks[0])
        caller.addTrack(tracks[1])
        callee.addTrack(tracks[2])
        callee.addTrack(tracks[3])
        caller.createDataChannel("metadata", ordered=True)
        await caller.setLocalDescription(await caller.createOffer())
        t_offer = time.monotonic()
        await asyncio.sleep(delay)  # the offer crossing the signaling server
        await callee.setRemoteDescription(caller.localDescription)
        await callee.setLocalDescription(await callee.createAnswer())
        await asyncio.sleep(delay)  # the answer crossing it back
        await caller.setRemoteDescription(callee.localDescription)
        await _wait_ice((caller, callee), timeout)
        return time.monotonic() - t_offer
    finally:
        for track in tracks:
            track.stop()
        await caller.close()
        await callee.close()


def main(argv: list[str] | None = None) -> int:
    """CLI: ``--runs N`` calls, one line each, then the median."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--stun", help="stun:IP:PORT (default: no ICE server)")
    parser.add_argument(
        "--turn", help="turn:IP:PORT?transport=udp (password: NATTEST_TURN_CREDENTIAL)"
    )
    parser.add_argument("--turn-username", default="")
    parser.add_argument("--relay", action="store_true", help="iceTransportPolicy relay")
    parser.add_argument("--timeout", type=float, default=10.0)
    parser.add_argument(
        "--delay", type=float, default=0.0, help="seconds each description takes to arrive"
    )
    args = parser.parse_args(argv)
    servers = [RTCIceServer(urls=args.stun)] if args.stun else []
    if args.turn:
        servers.append(
            RTCIceServer(
                urls=args.turn,
                username=args.turn_username,
                credential=os.environ.get("NATTEST_TURN_CREDENTIAL", ""),
            )
        )
    times = []
    for i in range(args.runs):
        seconds = asyncio.run(
            inprocess_call(servers, args.timeout, relay=args.relay, delay=args.delay)
        )
        times.append(seconds)
        print(f"run {i + 1}: offer → ICE completed (both) {seconds * 1000:.1f} ms")
    print(f"median {statistics.median(times) * 1000:.1f} ms over {len(times)} runs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
