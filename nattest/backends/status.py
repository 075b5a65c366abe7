"""What `nattest status` knows of a recorded lab, as data (rendered by report.status).

Built from the lab's record and its backend's names for the nodes; reads nothing else.
"""

from __future__ import annotations

import os
import time
from typing import Any

from nattest.backends import for_record
from nattest.backends.records import LabRecord


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def lab_status(record: LabRecord) -> dict[str, Any]:
    """Name, backend, topology, age, services and per node: kind, backend name, addresses,
    NAT behaviour and firewall (NATs), the chain of NATs in front (hosts), and the
    impairment of each impaired interface."""
    lab = for_record(record).attach(record)
    topo = lab.topology
    nodes = []
    for node in topo.nodes():
        kind = "nat" if node in topo.nats else "host" if node in topo.hosts else "server"
        entry: dict[str, Any] = {
            "node": node,
            "kind": kind,
            "ref": lab.node_ref(node),
            "addresses": {ifn: [] for ifn, _, _ in topo.attachments(node)},
        }
        for ifn, net, addr in topo.attachments(node):
            entry["addresses"][ifn].append(f"{addr} ({net})")
        if kind == "nat":
            entry["behavior"] = topo.nats[node].label
            firewall = topo.nats[node].firewall
            if firewall is not None:
                entry["firewall"] = firewall.value
        if kind == "host":
            entry["behind"] = topo.behind(node)
        impaired = {
            ifn: imp.describe()
            for (n, ifn), imp in topo.impaired_links().items()
            if n == node and imp.active
        }
        if impaired:
            entry["impair"] = impaired
        nodes.append(entry)
    return {
        "name": record.name,
        "backend": record.backend,
        "topology": topo.name,
        "source": record.topology_source,
        "age_s": round(time.time() - record.created, 1),
        "builder_running": _pid_alive(record.owner_pid),
        "services": record.services,
        "nodes": nodes,
    }


__all__ = ["lab_status"]
