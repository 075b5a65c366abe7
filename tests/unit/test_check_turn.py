"""`nattest check-turn` against the in-process fake TURN (tests/fixtures/fake_turn.py):
every stage, each failure's verdict and diagnosis, the CLI's exit codes, and no secret in
any output. No root, no network beyond 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from nattest import cli
from nattest.checks.turn import credentials, plan, run_checks
from nattest.checks.turn.client import CheckOptions, Credentials
from nattest.checks.turn.diagnose import diagnose_check, diagnose_report, is_private
from nattest.checks.turn.model import StepResult, TransportCheck, TurnReport
from nattest.errors import UsageError
from nattest.services.tls import make_self_signed_cert
from tests.fixtures.fake_turn import PASSWORD, USER, FakeTurn, tcp_server, udp_server

pytest_plugins = ["pytester"]

GOOD = Credentials(USER, PASSWORD, "long-term")


async def _check(
    turn: FakeTurn,
    transport: str = "udp",
    creds: Credentials = GOOD,
    opts: CheckOptions | None = None,
    tls: ssl.SSLContext | None = None,
) -> TurnReport:
    if transport == "udp":
        server, port = await udp_server(turn)
    else:
        server, port = await tcp_server(turn, tls)  # type: ignore[assignment]
    scheme = "turns" if transport == "tls" else "turn"
    url = f"{scheme}:127.0.0.1:{port}" + ("" if transport == "tls" else f"?transport={transport}")
    try:
        return await run_checks([url], creds, opts or CheckOptions(timeout=1.0), call=False)
    finally:
        server.close()
        turn.close()


def _ids(report: TurnReport) -> list[str]:
    return [d.id for c in report.checks for d in c.diagnoses] + [d.id for d in report.diagnoses]


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1."""
    return make_self_signed_cert(tmp_path_factory.mktemp("tls"), ["127.0.0.1"])


def _server_tls(cert: tuple[Path, Path]) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(cert[0]), str(cert[1]))
    return ctx


# --------------------------------------------------------------------------- working


@pytest.mark.parametrize("transport", ["udp", "tcp"])
async def test_every_stage_works(transport: str) -> None:
    report = await _check(FakeTurn(), transport)
    (check,) = report.checks
    assert check.ok and report.ok, check
    assert [s.step for s in check.steps] == ["connect", "binding", "allocate", "relay"]
    assert check.relayed is not None and check.relayed.startswith("127.0.0.1:")
    assert check.lifetime == 600
    assert check.mapped is not None and check.mapped.startswith("127.0.0.1:")
    assert check.rtt_ms is not None and check.rtt_ms > 0
    assert all(s.seconds is not None for s in check.steps)
    relay = check.step("relay")
    assert relay is not None
    if transport == "udp":  # a plain UDP socket here, as a peer outside the server
        assert "a peer outside: RTT" in relay.detail
    else:  # the fake has no UDP on its TCP port: only the two allocations
        assert "no UDP from here" in relay.detail


async def test_tls_with_the_ca(cert: tuple[Path, Path]) -> None:
    report = await _check(
        FakeTurn(), "tls", opts=CheckOptions(timeout=1.0, ca=str(cert[0])), tls=_server_tls(cert)
    )
    (check,) = report.checks
    assert check.ok, check
    connect = check.step("connect")
    assert connect is not None and "certificate for 127.0.0.1" in connect.detail


# --------------------------------------------------------------------------- failures


async def test_untrusted_certificate(cert: tuple[Path, Path]) -> None:
    report = await _check(FakeTurn(), "tls", tls=_server_tls(cert))
    (check,) = report.checks
    assert not check.ok and _ids(report) == ["cert-untrusted"]
    failed = check.failed
    assert failed is not None and (failed.step, failed.code) == ("connect", 18)


async def test_certificate_for_another_address(tmp_path: Path) -> None:
    other = make_self_signed_cert(tmp_path, ["127.0.0.2"])
    opts = CheckOptions(timeout=1.0, ca=str(other[0]))
    report = await _check(FakeTurn(), "tls", opts=opts, tls=_server_tls(other))
    assert _ids(report) == ["cert-name-mismatch"]
    assert "connecting by IP" in report.checks[0].diagnoses[0].problem


@pytest.mark.parametrize(
    ("turn", "creds", "ids", "code"),
    [
        (FakeTurn(password="other"), GOOD, ["wrong-credentials"], 401),
        (FakeTurn(realm=False), GOOD, ["realm-missing"], 401),
        (FakeTurn(error=(441, "Wrong Credentials")), GOOD, ["wrong-credentials"], 441),
        (FakeTurn(error=(403, "Forbidden")), GOOD, ["allocation-forbidden"], 403),
        (FakeTurn(error=(486, "Allocation Quota Reached")), GOOD, ["quota"], 486),
        (FakeTurn(error=(508, "Insufficient Capacity")), GOOD, ["capacity"], 508),
        (FakeTurn(error=(442, "")), GOOD, ["unsupported-transport"], 442),
        (FakeTurn(error=(437, "")), GOOD, ["allocation-mismatch"], 437),
        (FakeTurn(), Credentials(mode="none"), ["wrong-credentials"], 401),
        (
            FakeTurn(),
            Credentials("1700000000:alice", "x", "long-term"),
            ["rest-expired"],
            401,
        ),
        (FakeTurn(), credentials("alice", None, "not-the-secret"), ["rest-refused"], 401),
    ],
    ids=lambda v: None if not isinstance(v, list) else v[0],
)
async def test_allocation_failures(
    turn: FakeTurn, creds: Credentials, ids: list[str], code: int
) -> None:
    report = await _check(turn, creds=creds)
    (check,) = report.checks
    assert not check.ok and not report.ok
    failed = check.failed
    assert failed is not None and (failed.step, failed.code) == ("allocate", code), failed
    assert _ids(report) == ids


async def test_quota_of_one_fails_at_the_second_allocation() -> None:
    report = await _check(FakeTurn(quota=1))
    (check,) = report.checks
    assert check.step("allocate") is not None and check.step("allocate").ok  # type: ignore[union-attr]
    assert check.failed is not None and (check.failed.step, check.failed.code) == ("relay", 486)
    assert _ids(report) == ["quota"] and "second allocation" in check.diagnoses[0].problem


async def test_peer_denied() -> None:
    report = await _check(FakeTurn(deny_peers=("127.0.0.1",)))
    assert _ids(report) == ["peer-denied"]
    assert report.checks[0].failed is not None and report.checks[0].failed.code == 403


async def test_no_data_relayed() -> None:
    report = await _check(FakeTurn(relay_data=False))
    assert _ids(report) == ["relay-blocked"]
    assert "no data came through the relay" in report.checks[0].steps[-1].detail


async def test_relay_range_blocked_from_outside_only() -> None:
    """Two allocations reach each other, a peer outside does not: a security group."""
    report = await _check(FakeTurn(outside_blocked=True))
    assert _ids(report) == ["relay-blocked"]
    assert "from outside" in report.checks[0].steps[-1].detail


def test_private_relayed_address_fails_though_every_stage_works() -> None:
    """Reached at a public address, relaying from a private one: coturn behind a NAT without
    external-ip. (A server reached at a private address may relay from one.)"""
    steps = [StepResult(step=n, ok=True) for n in ("connect", "binding", "allocate", "relay")]
    check = TransportCheck(
        url="turn:203.0.113.2:3478?transport=udp",
        transport="udp",
        server="203.0.113.2:3478",
        relayed="10.0.0.5:50000",
        steps=steps,
    )
    check.diagnoses = diagnose_check(check, GOOD)
    assert not check.ok and [d.id for d in check.diagnoses] == ["relay-address-private"]
    assert "external-ip" in check.diagnoses[0].fix
    inside = check.model_copy(update={"server": "10.0.0.1:3478", "diagnoses": []})
    assert diagnose_check(inside, GOOD) == []


def _free_port(kind: int) -> int:
    """A port nothing listens on (UDP: an ICMP port unreachable answers it)."""
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_filtered_udp(silent_udp_port: int) -> None:
    url = f"turn:127.0.0.1:{silent_udp_port}?transport=udp"
    report = await run_checks([url], GOOD, CheckOptions(timeout=0.5), call=False)
    assert _ids(report) == ["filtered"]


async def test_down_udp_and_tcp(closed_tcp_port: int) -> None:
    udp, tcp = _free_port(socket.SOCK_DGRAM), closed_tcp_port
    urls = [f"turn:127.0.0.1:{udp}?transport=udp", f"turn:127.0.0.1:{tcp}?transport=tcp"]
    report = await run_checks(urls, GOOD, CheckOptions(timeout=0.5), call=False)
    assert _ids(report) == ["server-down", "server-down"]
    assert "ICMP" in report.checks[0].steps[-1].detail


def test_udp_blocked_while_tcp_works() -> None:
    def check(transport: str, failure: str | None) -> TransportCheck:
        steps = [StepResult(step="connect", ok=True)]
        if failure:
            steps.append(StepResult(step="binding", ok=False, failure=failure))
        else:
            steps += [StepResult(step="binding", ok=True), StepResult(step="allocate", ok=True)]
        return TransportCheck(url=f"turn:x?transport={transport}", transport=transport, steps=steps)  # type: ignore[arg-type]

    ids = [d.id for d in diagnose_report([check("udp", "timeout"), check("tcp", None)])]
    assert ids == ["udp-blocked"]
    assert diagnose_report([check("udp", "refused"), check("tcp", None)]) == []
    assert diagnose_report([check("udp", "timeout"), check("tcp", "timeout")]) == []


def test_private_ranges_are_not_the_documentation_ranges() -> None:
    assert is_private("10.1.2.3:5000") and is_private("100.64.0.1:1") and is_private("[fd00::1]:3")
    assert not is_private("203.0.113.3:50000") and not is_private("198.51.100.7:1")


# --------------------------------------------------------------------------- planning


def test_plan_transports() -> None:
    got = [(str(u), t) for u, t in plan(["turn:a.example", "turns:a.example"], None)]
    assert got == [
        ("turn:a.example:3478?transport=udp", "udp"),
        ("turn:a.example:3478?transport=udp", "tcp"),
        ("turns:a.example:5349?transport=tcp", "tls"),
    ]
    assert [t for _, t in plan(["turn:a.example?transport=tcp"], None)] == ["tcp"]
    assert [t for _, t in plan(["turn:a.example", "turns:a.example"], ["tls"])] == ["tls"]
    with pytest.raises(UsageError, match="unknown transport 'quic'"):
        plan(["turn:a.example"], ["quic"])
    with pytest.raises(UsageError, match="nothing to check"):
        plan(["turns:a.example"], ["udp"])
    with pytest.raises(UsageError, match="bad TURN URL"):
        plan(["stun:a.example"], None)


def test_credentials_modes() -> None:
    assert credentials("u", "p", None).mode == "long-term"
    rest = credentials(None, None, "s3cret")
    assert (
        rest.mode == "rest"
        and rest.username is not None
        and rest.username.endswith(":nattest-check")
    )
    assert credentials(None, None, None).mode == "none"
    with pytest.raises(UsageError, match="not both"):
        credentials("u", "p", "s")
    with pytest.raises(UsageError, match="both --user and --password"):
        credentials("u", None, None)


# --------------------------------------------------------------------------- CLI


@pytest.fixture
async def udp_fake() -> AsyncIterator[tuple[FakeTurn, int]]:
    turn = FakeTurn()
    server, port = await udp_server(turn)
    try:
        yield turn, port
    finally:
        server.close()
        turn.close()


def _run_cli_in_thread(args: list[str], env: dict[str, str] | None = None) -> Any:
    """CliRunner in a thread: the command runs its own event loop."""
    return CliRunner().invoke(cli.main, args, env=env)


async def test_cli_report_json_and_no_secret(
    udp_fake: tuple[FakeTurn, int], tmp_path: Path
) -> None:
    _, port = udp_fake
    out = tmp_path / "turn.json"
    args = ["check-turn", f"turn:localhost.test:{port}?transport=udp", "--user", USER]
    args += ["--no-call", "--resolve", "localhost.test:127.0.0.1", "--json", str(out)]
    result = await asyncio.to_thread(_run_cli_in_thread, args, {"NATTEST_TURN_PASSWORD": PASSWORD})
    assert result.exit_code == 0, result.output
    assert "✔ works" in result.output and "1/1 transports work" in result.output
    data = json.loads(out.read_text())
    assert data["checks"][0]["relayed"].startswith("127.0.0.1:")
    assert PASSWORD not in result.output and PASSWORD not in out.read_text()


async def test_cli_failure_exit_code(udp_fake: tuple[FakeTurn, int]) -> None:
    _, port = udp_fake
    args = ["check-turn", f"turn:127.0.0.1:{port}?transport=udp", "--user", USER]
    args += ["--password", "wrong-one", "--no-call"]
    result = await asyncio.to_thread(_run_cli_in_thread, args)
    assert result.exit_code == 1, result.output
    assert "wrong-credentials" in result.output and "wrong-one" not in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["stun:127.0.0.1"], "bad TURN URL"),
        (["turn:127.0.0.1", "--user", "u"], "both --user and --password"),
        (["turn:127.0.0.1", "--password", "p", "--secret", "s", "--user", "u"], "not both"),
        (["turns:127.0.0.1", "--insecure", "--ca", __file__], "--ca or --insecure"),
        (["turn:127.0.0.1", "--resolve", "nocolon"], "expected NAME:IP"),
        (["turn:127.0.0.1", "--transports", "quic"], "unknown transport"),
        (["turn:127.0.0.1", "--timeout", "0"], "positive number"),
    ],
)
def test_cli_usage_errors(args: list[str], message: str) -> None:
    result = CliRunner().invoke(cli.main, ["check-turn", *args])
    assert result.exit_code == 2, result.output
    assert message in result.output


def test_turn_check_fixture(pytester: pytest.Pytester) -> None:
    """The plugin's `turn_check` fails a test with the diagnoses when a transport fails."""
    pytester.makepyfile(
        """
        import socket
        def test_down(turn_check):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
            s.close()
            turn_check([f"turn:127.0.0.1:{port}?transport=udp"], user="u", password="p",
                       call=False, timeout=0.5)

        def test_report_without_failing(turn_check):
            report = turn_check(["turn:127.0.0.1:9?transport=udp"], call=False, timeout=0.3,
                                expect_ok=False)
            assert not report.ok
        """
    )
    result = pytester.runpytest("-p", "no:xdist")
    result.assert_outcomes(passed=1, failed=1)
    text = result.stdout.str()
    assert "problem [server-down]" in text and "fix: start the server" in text
