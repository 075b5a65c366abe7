"""Synthetic media for lab calls: a tone, a moving test pattern, frame counters and a
data-channel echo probe.

* ``ToneTrack``: 440 Hz sine, 48 kHz mono s16, 20 ms frames (what Opus sends).
* ``PatternTrack``: a vertical bar sweeping across a grey frame, 30 fps, I420;
  ``NoiseTrack``: random luma, which no encoder compresses (``--video noise``). It is
  cheap to make (rows copied from a cached line, no numpy) and to VP8-encode (few
  edges), so two peers fit on a 2-core box at the default 640x480.
* ``FrameCounter``: reads a received track with ``recv()`` and counts decoded frames.
* ``EchoProbe``: sends text and binary (JSON-encoded bytes) messages on the data channel,
  echoes the other side's, and counts its own that came back intact.
* ``Handshake``: a control message each way (media seen; checks done) that orders the end
  of a call.
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import json
import logging
import math
import os
import secrets
import time
from array import array
from dataclasses import dataclass, field
from typing import Any

from aiortc import RTCDataChannel
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack, VideoStreamTrack
from av import AudioFrame, VideoFrame

log = logging.getLogger("nattest.peers.aiortc.media")

AUDIO_RATE = 48000
"""Audio sample rate (Hz), Opus' native rate."""
AUDIO_PTIME = 0.020
"""Audio frame duration (s)."""
TONE_HZ = 440
"""Tone frequency (Hz); 48000/440 is not whole, so one second is precomputed."""
TONE_AMPLITUDE = 8000
"""Peak amplitude of the tone (s16)."""
PROBE_TAG = "nattest-probe"
"""Marker of probe messages on the data channel."""


def _tone_second() -> bytes:
    samples = array(
        "h",
        (
            int(TONE_AMPLITUDE * math.sin(2 * math.pi * TONE_HZ * n / AUDIO_RATE))
            for n in range(AUDIO_RATE)
        ),
    )
    return samples.tobytes()


class ToneTrack(MediaStreamTrack):
    """A 440 Hz tone, paced in real time."""

    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self._pcm = _tone_second()
        self._samples = int(AUDIO_RATE * AUDIO_PTIME)
        self._start: float | None = None
        self._timestamp = 0

    async def recv(self) -> AudioFrame:
        """Next 20 ms frame."""
        if self.readyState != "live":
            raise MediaStreamError
        if self._start is None:
            self._start = time.time()
        else:
            self._timestamp += self._samples
            wait = self._start + self._timestamp / AUDIO_RATE - time.time()
            if wait > 0:
                await asyncio.sleep(wait)
        frame = AudioFrame(format="s16", layout="mono", samples=self._samples)
        offset = (self._timestamp % AUDIO_RATE) * 2
        chunk = self._pcm[offset : offset + self._samples * 2]
        if len(chunk) < self._samples * 2:  # wrap around the precomputed second
            chunk += self._pcm[: self._samples * 2 - len(chunk)]
        frame.planes[0].update(chunk)
        frame.pts = self._timestamp
        frame.sample_rate = AUDIO_RATE
        frame.time_base = fractions.Fraction(1, AUDIO_RATE)
        return frame


class PatternTrack(VideoStreamTrack):
    """A white bar sweeping over a grey background, 30 fps (aiortc's video pacing)."""

    kind = "video"

    def __init__(self, width: int = 640, height: int = 480) -> None:
        super().__init__()
        if width < 16 or height < 16 or width % 2 or height % 2:
            raise ValueError(f"video size {width}x{height}: need even sizes >= 16")
        self.width = width
        self.height = height
        self._frame_no = 0
        self._bar = max(width // 16, 2)
        self._rows: dict[int, bytes] = {}

    def _row(self, x: int, stride: int) -> bytes:
        row = self._rows.get(x)
        if row is None:
            line = bytearray([100]) * stride
            line[x : x + self._bar] = bytes([235]) * len(line[x : x + self._bar])
            row = self._rows[x] = bytes(line)
        return row

    async def recv(self) -> VideoFrame:
        """Next frame."""
        pts, time_base = await self.next_timestamp()
        frame = VideoFrame(width=self.width, height=self.height, format="yuv420p")
        luma, *chroma = frame.planes
        step = max(self.width // 60, 1)
        x = (self._frame_no * step) % (self.width - self._bar)
        luma.update(self._row(x, luma.line_size) * (luma.buffer_size // luma.line_size))
        for plane in chroma:
            plane.update(bytes([128]) * plane.buffer_size)
        self._frame_no += 1
        frame.pts = pts
        frame.time_base = time_base
        return frame


NOISE_LEVELS = bytes(100 + (b & 31) for b in range(256))
"""Random byte → luma: fine-grained noise of ±16 around grey. VP8 spends whatever it is
given on it (at 320x240 its output follows the target from 250 kbit/s to 1.5 Mbit/s),
while full-range noise would overshoot any target."""


class NoiseTrack(PatternTrack):
    """Fresh fine-grained noise every frame, 30 fps: the encoder's output follows its target
    bitrate, so the sender's bitrate shows its bandwidth estimation (under a rate limit)."""

    async def recv(self) -> VideoFrame:
        """Next frame."""
        pts, time_base = await self.next_timestamp()
        frame = VideoFrame(width=self.width, height=self.height, format="yuv420p")
        luma, *chroma = frame.planes
        luma.update(os.urandom(luma.buffer_size).translate(NOISE_LEVELS))
        for plane in chroma:
            plane.update(bytes([128]) * plane.buffer_size)
        frame.pts = pts
        frame.time_base = time_base
        return frame


VIDEO_TRACKS = {"pattern": PatternTrack, "noise": NoiseTrack}
"""Synthetic video contents by name (``--video``)."""


@dataclass
class FrameCounter:
    """Counts frames decoded from one received track."""

    kind: str
    """audio or video."""
    frames: int = 0
    """Frames received so far."""
    task: asyncio.Task[None] | None = None
    """The reading task."""

    def start(self, track: MediaStreamTrack) -> None:
        """Read ``track`` in the background until it ends or ``stop()``."""
        self.task = asyncio.ensure_future(self._run(track))

    async def _run(self, track: MediaStreamTrack) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                await track.recv()
                self.frames += 1

    async def stop(self) -> None:
        """Stop reading."""
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, MediaStreamError):
                await self.task


def _probe(name: str, seq: int, kind: str) -> dict[str, Any]:
    return {
        "tag": PROBE_TAG,
        "from": name,
        "seq": seq,
        "kind": kind,
        "echo": False,
        "body": secrets.token_hex(256),
    }


@dataclass
class EchoProbe:
    """Data-channel round trips: send probes, echo the peer's, count intact echoes."""

    name: str
    """This peer's name (marks its own probes)."""
    count: int = 3
    """Text messages and binary messages to send (each)."""
    sent: dict[int, dict[str, Any]] = field(default_factory=dict)
    """Probes sent, by sequence number."""
    echoed: set[int] = field(default_factory=set)
    """Sequence numbers whose echo came back intact."""
    echoes_given: int = 0
    """Peer probes this side echoed back."""
    done: asyncio.Event = field(default_factory=asyncio.Event)
    """Set when every probe came back."""

    def attach(self, channel: RTCDataChannel) -> None:
        """Handle messages of ``channel``."""
        channel.on("message", lambda data: self._on_message(channel, data))

    def send_all(self, channel: RTCDataChannel) -> None:
        """Send the probes: ``count`` as text, ``count`` as binary JSON."""
        for seq in range(2 * self.count):
            kind = "text" if seq < self.count else "binary"
            probe = self.sent[seq] = _probe(self.name, seq, kind)
            text = json.dumps(probe)
            channel.send(text if kind == "text" else text.encode())

    def _on_message(self, channel: RTCDataChannel, data: str | bytes) -> None:
        try:
            msg = json.loads(data)
        except (ValueError, UnicodeDecodeError):
            log.warning("[%s] data channel: not a probe: %r", self.name, data[:60])
            return
        if not isinstance(msg, dict) or msg.get("tag") != PROBE_TAG:
            return
        if msg.get("from") != self.name and not msg.get("echo"):
            msg["echo"] = True
            text = json.dumps(msg)
            channel.send(text if isinstance(data, str) else text.encode())
            self.echoes_given += 1
            return
        original = self.sent.get(msg.get("seq", -1))
        wanted_type = str if original and original["kind"] == "text" else bytes
        if original and isinstance(data, wanted_type) and {**msg, "echo": False} == original:
            self.echoed.add(original["seq"])
        else:
            log.warning("[%s] data channel: echo altered: %.80r", self.name, data)
        if self.sent and len(self.echoed) == len(self.sent):
            self.done.set()


MEDIA_TAG = "nattest-media"
"""Data-channel control message: "I have decoded audio and video frames"."""
DONE_TAG = "nattest-done"
"""Data-channel control message: "my checks are over (media seen, my probes echoed or given
up on); I send nothing more that needs an answer"."""


class Handshake:
    """One control message each way over the data channel: a peer says its part once
    (``tell``) and notices the other's (``heard``).

    Two are used: ``MEDIA_TAG`` (neither leaves before both decoded media) and ``DONE_TAG``
    (neither closes before both finished their checks, so no probe or echo is in flight
    when the call ends)."""

    def __init__(self, name: str, tag: str) -> None:
        self.name = name
        """This peer's name (the message's `from`)."""
        self.tag = tag
        """Which message this is."""
        self.heard = asyncio.Event()
        """Set when the other peer said it."""
        self.told = False
        """Whether this peer has said it."""

    def tell(self, channel: RTCDataChannel) -> None:
        """Say it, once."""
        if not self.told:
            channel.send(json.dumps({"tag": self.tag, "from": self.name}))
            self.told = True

    def on_message(self, data: str | bytes) -> None:
        """Data-channel message handler: notice the other peer's message."""
        if isinstance(data, str) and self.tag in data:
            with contextlib.suppress(ValueError):
                msg = json.loads(data)
                if msg.get("tag") == self.tag and msg.get("from") != self.name:
                    self.heard.set()
