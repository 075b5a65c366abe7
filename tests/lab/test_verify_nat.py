"""verify-nat: coturn's RFC 5780 discovery agrees with every shipped topology's labels,
and a NAT that does not behave as labelled is reported with a diff (exit code 1)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from nattest.checks.verify import verify_lab
from nattest.lab import build_lab
from nattest.model.load import load_topology, parse_topology

from .conftest import TOPOLOGIES

FILES = [
    "open",
    "full-cone",
    "restricted-cone",
    "port-restricted-cone",
    "symmetric",
    "double-nat",
    "same-nat",
    "udp-blocked",
]


@pytest.mark.parametrize("name", FILES)
def test_shipped_topology_verifies(name: str, lab_name: str) -> None:
    lab = build_lab(load_topology(TOPOLOGIES / f"{name}.yaml"), lab_name)
    try:
        reports = verify_lab(lab)
    finally:
        lab.down()
    hosts_nats = {
        n
        for n, nat in lab.topology.nats.items()
        if any(h.network == nat.lan.network for h in lab.topology.hosts.values())
    }
    assert {r.nat for r in reports} == hosts_nats
    for r in reports:
        assert r.ok, (
            f"{r.nat}: {r.diff} (declared {r.declared.text()}, observed {r.observed_text()})"
        )
        if name == "open":
            assert r.observed.mapping == "none"
        elif name != "udp-blocked" or r.nat != "nat-a":
            assert r.observed.rfc5780, "coturn must answer with OTHER-ADDRESS (two addresses)"
    if name == "same-nat":
        assert reports[0].observed.hairpinning is True


def test_mislabelled_nat_is_a_mismatch(lab_name: str) -> None:
    lab = build_lab(load_topology(TOPOLOGIES / "symmetric.yaml"), lab_name)
    try:
        data = lab.topology.model_dump(mode="json")
        data["nats"]["nat-a"]["behavior"] = "full-cone"
        lab.topology = parse_topology(data, "relabelled")  # declared ≠ what the kernel does
        reports = {r.nat: r for r in verify_lab(lab)}
    finally:
        lab.down()
    assert not reports["nat-a"].ok and reports["nat-b"].ok
    assert (
        "mapping: declared endpoint-independent, observed address-and-port-dependent"
        in reports["nat-a"].diff
    )


def test_cli_verify_nat_file_exit_codes(lab_name: str) -> None:
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "nattest.cli",
            "verify-nat",
            str(TOPOLOGIES / "full-cone.yaml"),
            "--json",
        ],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr
    import json

    out = json.loads(r.stdout)
    assert [x["ok"] for x in out] == [True, True]
    assert out[0]["observed"].startswith(
        "endpoint-independent mapping, endpoint-independent filtering"
    )
