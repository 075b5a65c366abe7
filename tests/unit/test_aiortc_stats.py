"""aiortc's inbound-rtp stats: the media SSRC's counters, not the RTX stream's."""

from __future__ import annotations

import datetime
from typing import Any

from aiortc.rtcrtpreceiver import StreamStatistics
from aiortc.rtp import RtpPacket
from aiortc.stats import RTCInboundRtpStreamStats, RTCStatsReport

from nattest.peers.aiortc.ice_adapter import get_stats

MEDIA, RTX = 1111, 2222


def _stream(packets: int) -> StreamStatistics:
    stream = StreamStatistics(clockrate=90000)
    for seq in range(packets):
        stream.add(RtpPacket(sequence_number=seq, timestamp=seq * 3000))
    return stream


class Receiver:
    """Stands for an aiortc 1.16 RTCRtpReceiver: its private per-SSRC counters."""

    def __init__(self, streams: dict[int, StreamStatistics], rtx: dict[int, int]) -> None:
        self._RTCRtpReceiver__remote_streams = streams
        self._RTCRtpReceiver__rtx_ssrc = rtx


class Pc:
    def __init__(self, receiver: Receiver, reported_ssrc: int) -> None:
        self.receiver = receiver
        stream = receiver._RTCRtpReceiver__remote_streams[reported_ssrc]
        self.report = RTCStatsReport()
        self.report.add(
            RTCInboundRtpStreamStats(
                timestamp=datetime.datetime.now(datetime.UTC),
                type="inbound-rtp",
                id=f"inbound-rtp_{id(receiver)}",
                ssrc=reported_ssrc,
                kind="video",
                transportId="t",
                packetsReceived=stream.packets_received,
                packetsLost=stream.packets_lost,
                jitter=stream.jitter,
            )
        )

    async def getStats(self) -> RTCStatsReport:
        return self.report

    def getReceivers(self) -> list[Any]:
        return [self.receiver]


async def test_the_media_stream_replaces_the_rtx_stream_aiortc_reported() -> None:
    receiver = Receiver({MEDIA: _stream(500), RTX: _stream(1)}, {RTX: MEDIA})
    report = await get_stats(Pc(receiver, reported_ssrc=RTX))  # type: ignore[arg-type]
    (entry,) = [s for s in report.values() if s.type == "inbound-rtp"]
    assert (entry.ssrc, entry.packetsReceived) == (MEDIA, 500)


async def test_a_report_of_the_media_stream_is_left_alone() -> None:
    receiver = Receiver({MEDIA: _stream(500)}, {RTX: MEDIA})
    pc = Pc(receiver, reported_ssrc=MEDIA)
    before = dict(pc.report)
    assert dict(await get_stats(pc)) == before  # type: ignore[arg-type]
