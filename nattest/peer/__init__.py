"""The aiortc peer agent of nattest.

Run one peer per process, inside its lab node (aioice picks the interfaces of the current
network namespace at gather time)::

    python -m nattest.peer --name alice --role caller --signaling ws://IP:PORT --room r1 \\
        [--stun stun:IP:PORT] [--turn turn:IP:PORT?transport=udp] [--turn-username U] \\
        [--policy all|relay] --result alice.json

The library side: ``check_sdp``/``parse_candidates`` (SDP), ``quality_score``/
``call_quality`` (1..5 score), ``merge_call``/``summary`` (a CallResult and its text).
"""

from nattest.peer.quality import call_quality, quality_score
from nattest.peer.report import merge_call, summary
from nattest.peer.sdp import check_sdp, parse_candidates

__all__ = [
    "call_quality",
    "check_sdp",
    "merge_call",
    "parse_candidates",
    "quality_score",
    "summary",
]
