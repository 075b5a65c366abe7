"""The last stage of a TURN check: a relay-only call through the server between two aiortc
peers in this process (audio both ways and a data-channel echo), with its selected pair.

Both peers use only the server under test (``iceTransportPolicy: relay``), so the call
works only if allocation, permissions, channels and relaying all do, as a browser's would.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time

from nattest.checks.turn.client import Credentials, StageFailed, Target


async def relay_call(
    target: Target, creds: Credentials, tls: ssl.SSLContext | None, timeout: float
) -> str:
    """The selected pair (`relay↔relay`) of a relay-only call through `target`; StageFailed
    saying what did not happen (ICE, the data channel, audio) within `timeout` seconds."""
    from aiortc import RTCConfiguration, RTCIceServer, RTCPeerConnection
    from aiortc.rtcconfiguration import RTCBundlePolicy, RTCIceTransportPolicy

    from nattest.peers.aiortc import ice_adapter
    from nattest.peers.aiortc.media import FrameCounter, ToneTrack

    host = f"[{target.address}]" if ":" in target.address else target.address
    scheme, transport = (
        ("turns", "tcp") if target.transport == "tls" else ("turn", target.transport)
    )
    server = RTCIceServer(
        urls=f"{scheme}:{host}:{target.url.port}?transport={transport}",
        username=creds.username,
        credential=creds.password,
    )
    config = RTCConfiguration(
        iceServers=[server],
        bundlePolicy=RTCBundlePolicy.MAX_BUNDLE,
        iceTransportPolicy=RTCIceTransportPolicy.RELAY,
    )
    caller, callee = RTCPeerConnection(config), RTCPeerConnection(config)
    tracks = [ToneTrack(), ToneTrack()]
    heard = FrameCounter("audio")
    echoed = asyncio.Event()
    opened = asyncio.Event()
    step = "ICE through the relay"
    try:
        caller.addTrack(tracks[0])
        callee.addTrack(tracks[1])
        channel = caller.createDataChannel("metadata", ordered=True)
        channel.on("open", opened.set)
        channel.on("message", lambda message: echoed.set() if message == "nattest-echo" else None)

        @callee.on("datachannel")
        def _(incoming) -> None:  # type: ignore[no-untyped-def]
            incoming.on("message", lambda message: incoming.send(message))

        @callee.on("track")
        def _track(track) -> None:  # type: ignore[no-untyped-def]
            heard.start(track)

        if tls is not None:
            for pc in (caller, callee):
                ice_adapter.set_turn_tls_context(pc, tls)
        deadline = time.monotonic() + timeout
        await caller.setLocalDescription(await caller.createOffer())
        await callee.setRemoteDescription(caller.localDescription)
        await callee.setLocalDescription(await callee.createAnswer())
        await caller.setRemoteDescription(callee.localDescription)
        await asyncio.wait_for(opened.wait(), max(deadline - time.monotonic(), 0.01))
        step = "the data-channel echo"
        channel.send("nattest-echo")
        await asyncio.wait_for(echoed.wait(), max(deadline - time.monotonic(), 0.01))
        step = "audio through the relay"
        while heard.frames < 5:
            if time.monotonic() > deadline:
                raise TimeoutError
            await asyncio.sleep(0.02)
        pair = ice_adapter.nominated_pair(caller)
        return f"{pair[0].type}↔{pair[1].type}" if pair else "relay↔relay"
    except TimeoutError:
        raise StageFailed(
            "timeout", f"the relay-only call did not get {step} within {timeout:g} s"
        ) from None
    finally:
        with contextlib.suppress(Exception):
            await heard.stop()
        for track in tracks:
            track.stop()
        for pc in (caller, callee):
            with contextlib.suppress(Exception):
                await asyncio.wait_for(pc.close(), 3.0)


__all__ = ["relay_call"]
