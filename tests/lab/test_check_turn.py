"""`nattest check-turn` against real coturns configured well and badly, run from a lab host
as a user would (`python -m nattest.cli check-turn ... --json`): each asserts the exact
verdict and diagnosis."""

from __future__ import annotations

import json
import os
import secrets
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from nattest.backends.base import Lab
from nattest.lab import build_lab
from nattest.model.load import load_topology
from nattest.services.coturn import TurnConfig, TurnServer
from nattest.services.credentials import rest_credentials
from nattest.services.tls import make_self_signed_cert

from .conftest import TOPOLOGIES

USER = "alice"
PASSWORD = "pw-" + secrets.token_hex(6)
SERVER = "203.0.113.2"
ADDRESSES = [SERVER, "203.0.113.3"]


def _lab(name: str, topology: str = "open.yaml") -> Iterator[Lab]:
    lab = build_lab(load_topology(TOPOLOGIES / topology), name, services=False)
    try:
        yield lab
    finally:
        lab.down()


@pytest.fixture
def lab(lab_name: str) -> Iterator[Lab]:
    yield from _lab(lab_name)


def start_turn(lab: Lab, **config: Any) -> TurnConfig:
    """coturn on the lab's `turn` node (stopped by the lab's teardown)."""
    values: dict[str, Any] = {"addresses": ADDRESSES, "users": {USER: PASSWORD}}
    values.update(config)
    cfg = TurnConfig(workdir=lab.workdir / "coturn" / uuid.uuid4().hex[:6], **values)
    TurnServer(cfg).start(lab, "turn")
    return cfg


def check(
    lab: Lab, *args: str, password: str | None = PASSWORD, node: str = "alice"
) -> tuple[int, dict[str, Any]]:
    """Run `nattest check-turn ARGS --json` inside `node`: (exit code, report)."""
    out = lab.workdir / f"check-{uuid.uuid4().hex[:6]}.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("NATTEST_TURN_")}
    if password is not None:
        env["NATTEST_TURN_PASSWORD"] = password
    argv = lab.python_argv(node, "nattest.cli", "check-turn", *args, "--json", str(out))
    done = lab.exec(node, argv, check=False, timeout=90, env=env)
    assert done.returncode in (0, 1), done.stdout + done.stderr
    assert PASSWORD not in done.stdout + done.stderr
    return done.returncode, json.loads(out.read_text())


def ids(report: dict[str, Any]) -> list[str]:
    """Every diagnosis id, per transport in order, then across transports."""
    found = [d["id"] for c in report["checks"] for d in c["diagnoses"]]
    return found + [d["id"] for d in report["diagnoses"]]


def failed_step(report: dict[str, Any], index: int = 0) -> dict[str, Any]:
    return next(s for s in report["checks"][index]["steps"] if not s["ok"])


def test_healthy_server_over_udp_tcp_tls_with_the_call(lab: Lab) -> None:
    cfg = start_turn(lab)
    rc, report = check(
        lab, f"turn:{SERVER}", f"turns:{SERVER}", "--user", USER, "--ca", str(cfg.cert_path)
    )
    assert rc == 0, report
    assert [c["transport"] for c in report["checks"]] == ["udp", "tcp", "tls"]
    for c in report["checks"]:
        assert [s["step"] for s in c["steps"]] == [
            "connect",
            "binding",
            "allocate",
            "relay",
            "call",
        ]
        assert all(s["ok"] for s in c["steps"]) and c["diagnoses"] == []
        assert c["relayed"].startswith("203.0.113.3:") and c["mapped"].startswith("198.51.100.10:")
        assert c["selectedPair"] == "relay↔relay"
    assert ids(report) == []


def test_wrong_password(lab: Lab) -> None:
    start_turn(lab)
    rc, report = check(lab, f"turn:{SERVER}", "--user", USER, "--no-call", password="not-it")
    assert rc == 1 and ids(report) == ["wrong-credentials", "wrong-credentials"]
    assert failed_step(report)["step"] == "allocate" and failed_step(report)["code"] == 401


def test_rest_credentials_fresh_expired_and_mixed_up(lab: Lab) -> None:
    secret = secrets.token_hex(8)
    start_turn(lab, users={}, rest_secret=secret)
    url = f"turn:{SERVER}?transport=udp"
    rc, report = check(lab, url, "--no-call", "--secret", secret, password=None)
    assert rc == 0, report
    user, password = rest_credentials(secret, USER, ttl=-600)  # expired ten minutes ago
    rc, report = check(lab, url, "--user", user, "--no-call", password=password)
    assert rc == 1 and ids(report) == ["rest-expired"]
    rc, report = check(lab, url, "--user", USER, "--no-call")  # long-term against REST
    assert rc == 1 and ids(report) == ["wrong-credentials"]


def test_tls_untrusted_then_trusted(lab: Lab) -> None:
    cfg = start_turn(lab)
    rc, report = check(lab, f"turns:{SERVER}", "--user", USER, "--no-call")
    assert rc == 1 and ids(report) == ["cert-untrusted"]
    assert failed_step(report)["step"] == "connect"
    rc, report = check(
        lab, f"turns:{SERVER}", "--user", USER, "--no-call", "--ca", str(cfg.cert_path)
    )
    assert rc == 0, report


def test_tls_name_mismatch_by_ip_and_the_name_pinned(lab: Lab) -> None:
    name = "turn.lab.test"
    cert, key = make_self_signed_cert(lab.workdir / "named", [], names=(name,))
    start_turn(lab, cert=cert, key=key)
    rc, report = check(lab, f"turns:{SERVER}", "--user", USER, "--no-call", "--ca", str(cert))
    assert rc == 1 and ids(report) == ["cert-name-mismatch"]
    assert "connecting by IP" in report["checks"][0]["diagnoses"][0]["problem"]
    args = ("--resolve", f"{name}:{SERVER}", "--ca", str(cert), "--no-call")
    rc, report = check(lab, f"turns:{name}", "--user", USER, *args)
    assert rc == 0, report


def test_udp_blocked_in_front_of_the_client(lab_name: str) -> None:
    for lab in _lab(lab_name, "udp-blocked.yaml"):
        cfg = start_turn(lab)
        args = ("--user", USER, "--ca", str(cfg.cert_path), "--no-call", "--timeout", "1")
        rc, report = check(lab, f"turn:{SERVER}", f"turns:{SERVER}", *args)
        assert rc == 1
        verdicts = {
            c["transport"]: not c["diagnoses"] and all(s["ok"] for s in c["steps"])
            for c in report["checks"]
        }
        assert verdicts == {"udp": False, "tcp": True, "tls": True}
        assert ids(report) == ["filtered", "udp-blocked"]


def test_quota_of_one_allocation(lab: Lab) -> None:
    start_turn(lab, user_quota=1)
    rc, report = check(lab, f"turn:{SERVER}?transport=udp", "--user", USER, "--no-call")
    assert rc == 1 and ids(report) == ["quota"]
    assert (failed_step(report)["step"], failed_step(report)["code"]) == ("relay", 486)


def test_server_denies_the_peer_addresses(lab: Lab) -> None:
    start_turn(lab, denied_peers=["203.0.113.0-203.0.113.255"], allowed_peers=[])
    rc, report = check(lab, f"turn:{SERVER}?transport=udp", "--user", USER, "--no-call")
    assert rc == 1 and ids(report) == ["peer-denied"]
    assert failed_step(report)["code"] == 403


@pytest.mark.parametrize(
    "match",
    ["", 'iifname "eth0" '],
    ids=["every-source", "from-outside-only"],
)
def test_relay_port_range_dropped_by_a_firewall(lab: Lab, match: str) -> None:
    """nftables on the TURN node drops the relay range: for every source, or only what
    arrives on its network interface (a cloud security group: the server's own traffic
    between its relay ports still passes, a client's does not)."""
    start_turn(lab)
    rules = (
        "table inet ntcheck {\n chain input {\n  type filter hook input priority 0;\n"
        f"  {match}udp dport 49152-65535 drop\n }}\n}}\n"
    )
    lab.exec("turn", ["nft", "-f", "-"], input=rules)
    args = ("--user", USER, "--no-call", "--timeout", "1")
    rc, report = check(lab, f"turn:{SERVER}?transport=udp", *args)
    assert rc == 1 and ids(report) == ["relay-blocked"]
    assert failed_step(report)["step"] == "relay"
    if match:
        assert "from outside" in failed_step(report)["detail"]


def test_behind_a_nat_without_then_with_external_ip(lab: Lab) -> None:
    """The relay on a private address behind a 1:1 NAT (emulated on the TURN node: the
    private address on its loopback, the public relay ports DNATed to it)."""
    private = "10.9.0.2"
    lab.exec("turn", ["ip", "addr", "add", f"{private}/32", "dev", "lo"])
    common: dict[str, Any] = {"addresses": [SERVER], "relay_address": private, "denied_peers": []}
    start_turn(lab, **common)
    url = f"turn:{SERVER}?transport=udp"
    rc, report = check(lab, url, "--user", USER, "--no-call")
    assert rc == 1 and ids(report) == ["relay-address-private"]
    assert report["checks"][0]["relayed"].startswith(f"{private}:")
    dnat = f"ip daddr {SERVER} udp dport 49152-65535 dnat to {private}"
    nat = (  # the 1:1 NAT: for clients (prerouting) and for the server itself (output)
        "table ip ntcheck {\n"
        f" chain pre {{\n  type nat hook prerouting priority -100;\n  {dnat}\n }}\n"
        f" chain out {{\n  type nat hook output priority -100;\n  {dnat}\n }}\n}}\n"
    )
    lab.exec("turn", ["nft", "-f", "-"], input=nat)
    start_turn(lab, **common, external_ips=[f"{SERVER}/{private}"], port=3480, tls_port=5351)
    rc, report = check(lab, f"turn:{SERVER}:3480?transport=udp", "--user", USER, "--no-call")
    assert rc == 0, report
    assert report["checks"][0]["relayed"].startswith(f"{SERVER}:")


def test_server_down(lab: Lab) -> None:
    rc, report = check(lab, f"turn:{SERVER}", "--user", USER, "--no-call", "--timeout", "1")
    assert rc == 1 and ids(report) == ["server-down", "server-down"]
