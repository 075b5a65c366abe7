"""Evidence of what a lab did: packet captures, and the files a failing run keeps.

- ``capture``: a tcpdump in every node of a lab, one pcap per node (``--capture``);
- ``keep``: copy a lab's logs, results, rulesets, ``repro.sh`` and pcaps to
  ``results/<test id>/`` before it is torn down (failing scenarios and matrix cells);
- ``pcap``: read a pcap and sort its packets as RFC 7983 does (STUN, DTLS, RTP, RTCP);
- ``model``: ``Evidence``, where it was kept, for reports.
"""

from __future__ import annotations

from nattest.evidence.model import Evidence

__all__ = ["Evidence"]
