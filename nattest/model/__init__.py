"""The model: what a lab *is*, as validated pure data. Nothing here touches the machine.

- ``topology``: networks, NAT routers, hosts, servers and their derived views;
- ``load``: reading a topology file (errors name file, field and reason);
- ``nat``: RFC 4787 behaviour (mapping × filtering, presets, firewalls, NAT chains);
- ``configs``: the matrix's endpoint configurations and the standard two-peer lab;
- ``base``, ``yamlfile``: the model bases and the one YAML reader.

    topo = load_topology("topologies/symmetric.yaml")      # touches nothing
"""

from nattest.model.configs import CONFIGS, pair_topology
from nattest.model.load import load_topology, parse_topology
from nattest.model.nat import Filtering, Firewall, Mapping, NatBehavior
from nattest.model.topology import Topology

__all__ = [
    "CONFIGS",
    "Filtering",
    "Firewall",
    "Mapping",
    "NatBehavior",
    "Topology",
    "load_topology",
    "pair_topology",
    "parse_topology",
]
