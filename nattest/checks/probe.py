"""A fast RFC 4787 probe of the NAT path in front of a host, from this process.

The probe opens real UDP sockets *inside* lab namespaces (see netns.py): one on the host,
three on a public server (address A port p, A port p+1, address B port p). The host sends
to each; what the server sees is the mapping. Then the server answers unsolicited from
endpoints the host has or has not contacted; what reaches the host is the filtering.
It runs in milliseconds, against the real kernel NAT, and complements coturn's
`turnutils_natdiscovery` (which needs seconds per NAT).
"""

from __future__ import annotations

import contextlib
import itertools
import select
import socket
from dataclasses import dataclass

from nattest.backends.base import Lab
from nattest.errors import LabError
from nattest.model.nat import Filtering, Mapping

_probes = itertools.count()
"""Probe number: each probe uses fresh ports so conntrack state never carries over."""


@dataclass(frozen=True)
class ProbeResult:
    """What the probe observed for one host's path to the public network."""

    mapping: Mapping | None
    """None: no translation at all (the server saw the host's own address)."""
    filtering: Filtering | None
    """None when there is no NAT."""
    port_preserved: bool
    """The external port equals the host's local port."""
    mapped: tuple[str, int]
    """The host's external address:port towards the first server endpoint."""
    hairpinning: bool | None = None
    """Set when probed with a second host behind the same NAT."""


def _recv(sock: socket.socket, timeout: float) -> tuple[bytes, tuple[str, int]] | None:
    ready, _, _ = select.select([sock], [], [], timeout)
    if not ready:
        return None
    data, addr = sock.recvfrom(2048)
    return data, addr


def probe_nat(
    lab: Lab,
    host: str,
    server: str,
    *,
    timeout: float = 0.3,
    hairpin_peer: str | None = None,
) -> ProbeResult:
    """Observe mapping and filtering between `host` and a server node with two addresses."""
    a1, a2 = (str(a) for a in lab.topology.servers[server].addresses[:2])
    local = str(lab.topology.hosts[host].address)
    port = 40000 + (next(_probes) * 8) % 20000
    with contextlib.ExitStack() as stack:

        def sock(node: str, addr: str, p: int) -> socket.socket:
            s = stack.enter_context(lab.socket(node))
            s.bind((addr, p))
            return s

        h = sock(host, local, port)
        servers = {
            "A:p": sock(server, a1, port + 1),
            "A:p+1": sock(server, a1, port + 2),
            "B:p": sock(server, a2, port + 1),
        }
        seen: dict[str, tuple[str, int]] = {}
        for key, s in servers.items():
            h.sendto(key.encode(), s.getsockname())
            got = _recv(s, timeout)
            if got is None:
                raise LabError(f"probe: {host} cannot reach {server} {s.getsockname()} over UDP")
            seen[key] = got[1]
        mapped = seen["A:p"]
        if mapped[0] == local:
            return ProbeResult(None, None, mapped[1] == port, mapped)
        if seen["B:p"] == mapped and seen["A:p+1"] == mapped:
            mapping = Mapping.ENDPOINT_INDEPENDENT
        elif seen["A:p+1"] == mapped:
            mapping = Mapping.ADDRESS_DEPENDENT
        else:
            mapping = Mapping.ADDRESS_AND_PORT_DEPENDENT
        # filtering: a fresh host endpoint that contacted only A:p, then unsolicited tries
        h2 = sock(host, local, port + 3)
        a_p = sock(server, a1, port + 4)
        h2.sendto(b"open", a_p.getsockname())
        got = _recv(a_p, timeout)
        if got is None:
            raise LabError(f"probe: {host}'s second socket cannot reach {server} over UDP")
        m2 = got[1]
        from_other_port = sock(server, a1, port + 5)
        from_other_addr = sock(server, a2, port + 6)
        from_other_addr.sendto(b"other-address", m2)
        from_other_port.sendto(b"other-port", m2)
        received = set()
        while (got := _recv(h2, timeout)) is not None:
            received.add(got[0])
        if b"other-address" in received:
            filtering = Filtering.ENDPOINT_INDEPENDENT
        elif b"other-port" in received:
            filtering = Filtering.ADDRESS_DEPENDENT
        else:
            filtering = Filtering.ADDRESS_AND_PORT_DEPENDENT
        hairpin = None
        if hairpin_peer is not None:
            peer_addr = str(lab.topology.hosts[hairpin_peer].address)
            p = sock(hairpin_peer, peer_addr, port + 7)
            p.sendto(b"map", servers["A:p"].getsockname())
            got = _recv(servers["A:p"], timeout)
            if got is None:
                raise LabError(f"probe: {hairpin_peer} cannot reach {server} over UDP")
            h.sendto(b"hairpin", got[1])
            hairpin = _recv(p, timeout) is not None
        return ProbeResult(mapping, filtering, mapped[1] == port, mapped, hairpin)
