"""Hosts from a user's own image: their container behind the lab's NAT.

The node itself is a container of nattest's image (it owns the network namespace nattest
wires, like a Kubernetes pod's pause container). Once the lab's services run, the user's
container ``nt-<lab>-<node>-app`` starts in that namespace
(``network_mode="container:nt-<lab>-<node>"``) with its command and environment, plus
where to find the lab (``lab_env``). Labelled with the lab, it goes with it.
"""

from __future__ import annotations

from typing import Any

from nattest.backends.docker import engine
from nattest.errors import UsageError
from nattest.model.topology import Topology
from nattest.services.credentials import LabServices

APP_SUFFIX = "-app"


def lab_env(
    topology: Topology, lab: str, node: str, services: LabServices | None
) -> dict[str, str]:
    """What a user's container is told: the lab and node, its address, and the lab's
    STUN, TURN (udp/tcp/tls) and signaling URLs with a TURN credential (pure)."""
    host = topology.hosts[node]
    env = {"NATTEST_LAB": lab, "NATTEST_NODE": node, "NATTEST_ADDRESS": str(host.address)}
    if services is not None and services.turn_address is not None:
        user, password = services.turn_credentials(node)
        env |= {
            "NATTEST_STUN_URL": services.stun_url(),
            "NATTEST_STUN_HOST": services.turn_address,
            "NATTEST_STUN_PORT": str(services.turn_port),
            "NATTEST_TURN_URL": services.turn_url("udp"),
            "NATTEST_TURN_TCP_URL": services.turn_url("tcp"),
            "NATTEST_TURNS_URL": services.turn_url("tls"),
            "NATTEST_TURN_USERNAME": user,
            "NATTEST_TURN_CREDENTIAL": password,
        }
    if services is not None and services.signaling_url:
        env["NATTEST_SIGNALING_URL"] = services.signaling_url
    return env


def start_apps(
    topology: Topology,
    lab: str,
    node_refs: dict[str, str],
    services: LabServices | None,
    labels: dict[str, str],
) -> list[str]:
    """Start every image host's container in its node's namespace; their names."""
    started = []
    c = engine.client()
    for node, host in topology.hosts.items():
        if host.image is None:
            continue
        try:
            engine.require_image(host.image)
        except UsageError as e:
            raise UsageError(f"hosts.{node}.image: {e}") from e
        name = node_refs[node] + APP_SUFFIX
        kwargs: dict[str, Any] = {}
        if host.command is not None:
            kwargs["command"] = host.command
        c.containers.run(
            host.image,
            name=name,
            detach=True,
            network_mode=f"container:{node_refs[node]}",
            environment={**host.env, **lab_env(topology, lab, node, services)},
            labels={**labels, "org.nattest.node": node, "org.nattest.role": "app"},
            **kwargs,
        )
        started.append(name)
    return started


__all__ = ["APP_SUFFIX", "lab_env", "start_apps"]
