"""Faults (parsing, checks against a topology, the runner's records), bitrate deltas and
consent-freshness bookkeeping: pure parts, no lab."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from click.testing import CliRunner

from nattest import cli
from nattest.backends.netns import NetnsBackend
from nattest.call.faults import (
    ACTIONS,
    Action,
    Fault,
    FaultRunner,
    check_faults,
    cut_ruleset,
    parse_fault,
    parse_faults,
    parse_time,
)
from nattest.call.result import Candidate, CandidatePair
from nattest.call.spec import CallSpec
from nattest.errors import UsageError
from nattest.model.load import load_topology
from nattest.peers.aiortc.health import ConsentWatch, lost_reason
from nattest.peers.rates import Totals, rates, totals

TOPOLOGIES = Path(__file__).parents[2] / "topologies"


@pytest.fixture(scope="module")
def topo() -> Any:
    return load_topology(TOPOLOGIES / "port-restricted-cone.yaml")


# ---------------------------------------------------------------------------- parsing


@pytest.mark.parametrize(
    ("text", "seconds"), [("3s", 3.0), ("1500ms", 1.5), ("2.5s", 2.5), ("0s", 0.0)]
)
def test_parse_time(text: str, seconds: float) -> None:
    assert parse_time(text) == seconds


@pytest.mark.parametrize("text", ["3", "3x", "-1s", "s", "1.s", "1h", "99999s"])
def test_bad_time_names_the_value_and_the_forms(text: str) -> None:
    with pytest.raises(UsageError, match=f"'{text}'.*(3s|at most)"):
        parse_time(text)


def test_parse_fault_forms() -> None:
    assert parse_fault("3s:cut nat-a") == Fault(3.0, "cut", "nat-a")
    assert parse_fault("1500ms:kill turn") == Fault(1.5, "kill", "turn")
    assert parse_fault(" 2s:flush nat-a ") == Fault(2.0, "flush", "nat-a")
    assert parse_fault("4s:rebind nat-a") == Fault(4.0, "rebind", "nat-a")
    assert parse_fault("20s:restore nat-a:wan") == Fault(20.0, "restore", "nat-a:wan")
    assert str(parse_fault("1500ms:kill turn")) == "1.5s:kill turn"
    assert str(Fault(0.25, "cut", "alice")) == "250ms:cut alice"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("cut nat-a", r"--at 'cut nat-a': expected TIME:ACTION TARGET.*cut NODE"),
        ("3s:explode nat-a", r"unknown action 'explode' \(actions: cut NODE\[:IFACE\], restore"),
        ("3s:cut", r"expected TIME:ACTION TARGET"),
        ("3s:cut nat-a=1", r"cut takes no value: expected cut NODE\[:IFACE\]"),
        ("3q:cut nat-a", r"time '3q'"),
    ],
)
def test_bad_fault_names_the_value_and_what_is_allowed(text: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        parse_fault(text)


def test_faults_sorted_and_spec_accepts_text() -> None:
    faults = parse_faults(["5s:restore nat-a", "3s:cut nat-a"])
    assert [f.at for f in faults] == [3.0, 5.0]
    spec = CallSpec(faults=["5s:restore nat-a", Fault(3.0, "cut", "nat-a")])
    assert spec.schedule == faults and spec.faults == faults
    with pytest.raises(UsageError, match="faults '3:cut nat-a'"):
        CallSpec(faults=["3:cut nat-a"])


def test_value_actions_are_an_extension_point(monkeypatch: pytest.MonkeyPatch) -> None:
    """The impairment engine registers `impair LINK=SPEC` the same way."""
    action = Action("impair", "impair LINK=SPEC", lambda lab, f: "", lambda t, f: None, True)
    monkeypatch.setitem(ACTIONS, "impair", action)
    assert parse_fault("4s:impair nat-a:wan=rate=300kbit") == Fault(
        4.0, "impair", "nat-a:wan", "rate=300kbit"
    )
    with pytest.raises(UsageError, match="expected impair LINK=SPEC"):
        parse_fault("4s:impair nat-a:wan")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("3s:cut nat-z", r"no node 'nat-z' in port-restricted-cone \(nodes: nat-a, nat-b"),
        ("3s:cut nat-a:eth9", r"nat-a has no interface 'eth9' \(interfaces: wan, lan\)"),
        ("3s:kill alice", r"'alice' is not a server running TURN \(TURN servers: turn\)"),
        ("3s:flush alice", r"'alice' is not a NAT \(NATs: nat-a, nat-b\)"),
        ("3s:rebind bob", r"'bob' is not a NAT \(NATs: nat-a, nat-b\)"),
    ],
)
def test_targets_checked_against_the_topology(topo: Any, text: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        check_faults(topo, [parse_fault(text)])


def test_good_targets_pass(topo: Any) -> None:
    check_faults(topo, parse_faults(["1s:cut nat-a", "2s:restore nat-a:wan", "3s:kill turn"]))
    check_faults(topo, parse_faults(["1s:flush nat-b", "2s:cut alice"]))


def test_cut_ruleset_drops_before_conntrack() -> None:
    every = cut_ruleset(None)
    assert "table inet nattest_cut {" in every
    assert 'iifname != "lo" drop' in every and 'oifname != "lo" drop' in every
    assert every.count("priority -400;") == 3  # before conntrack (-200): mappings stay
    wan = cut_ruleset("wan")
    assert "table inet nattest_cut_wan {" in wan and 'oifname "wan" drop' in wan


def test_cli_bad_at_exits_2_before_building(monkeypatch: pytest.MonkeyPatch) -> None:
    def tripwire(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a lab was built")

    monkeypatch.setattr(NetnsBackend, "up", tripwire)
    topo = str(TOPOLOGIES / "port-restricted-cone.yaml")
    for at, message in [
        ("3x:cut nat-a", "--at '3x:cut nat-a': time '3x'"),
        ("3s:cut nat-q", "no node 'nat-q'"),
        ("3s:zap nat-a", "unknown action 'zap'"),
    ]:
        result = CliRunner().invoke(cli.main, ["call", topo, "--at", at])
        assert result.exit_code == 2, result.output
        assert message in result.output


# ----------------------------------------------------------------------------- runner


def _fake_lab(topo: Any) -> Any:
    return SimpleNamespace(topology=topo, calls=[])


def test_runner_records_applied_error_and_skipped(
    topo: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def poke(lab: Any, fault: Fault) -> str:
        if fault.target == "bad":
            raise RuntimeError("no such thing")
        lab.calls.append((fault.target, time.monotonic()))
        return f"poked {fault.target}"

    monkeypatch.setitem(ACTIONS, "poke", Action("poke", "poke X", poke, lambda t, f: None))
    lab = _fake_lab(topo)
    faults = [Fault(0.05, "poke", "a"), Fault(0.1, "poke", "bad"), Fault(60, "poke", "late")]
    clock0 = time.monotonic()
    runner = FaultRunner(lab, faults, clock0).start()
    deadline = time.monotonic() + 5
    while len(runner.records) and runner.records[1].t is None and time.monotonic() < deadline:
        time.sleep(0.01)
    t_stop = time.monotonic()
    records = runner.stop()
    assert time.monotonic() - t_stop < 1.0  # a pending fault never holds the call
    assert [r.outcome for r in records] == ["applied", "error", "skipped"]
    assert records[0].detail == "poked a" and records[0].t is not None and records[0].t >= 0.05
    assert lab.calls[0][1] - clock0 >= 0.05
    assert "RuntimeError: no such thing" in records[1].detail
    assert records[2].t is None and records[2].detail == "the call ended first"
    assert records[2].spec == "60s:poke late"


def test_runner_without_faults_starts_no_thread(topo: Any) -> None:
    before = threading.active_count()
    runner = FaultRunner(_fake_lab(topo), [], time.monotonic()).start()
    assert threading.active_count() == before and runner.stop() == []


# ----------------------------------------------------------------------------- bitrate


def _stat(type_: str, kind: str, **values: int) -> Any:
    return SimpleNamespace(type=type_, kind=kind, **values)


def test_totals_per_kind() -> None:
    report = {
        "o1": _stat("outbound-rtp", "audio", bytesSent=1000, packetsSent=10),
        "o2": _stat("outbound-rtp", "video", bytesSent=5000, packetsSent=7),
        "i1": _stat("inbound-rtp", "video", packetsReceived=30),
        "r1": _stat("remote-inbound-rtp", "video", packetsReceived=99),
        "t": SimpleNamespace(type="transport"),
    }
    got = totals(report)
    assert got["audio"] == Totals(1000, 10, 0)
    assert got["video"] == Totals(5000, 7, 30)


def test_rates_are_deltas_over_the_interval() -> None:
    before = {"audio": Totals(1000, 10, 10), "video": Totals(5000, 5, 5)}
    after = {"audio": Totals(16000, 60, 60), "video": Totals(42500, 35, 34)}
    audio, video = rates(before, after, 0.5, t=3.25)
    assert audio.kind == "audio" and audio.t == 3.25 and audio.interval == 0.5
    assert audio.bytes_sent_in_bits_per_s == 15000 * 8 / 0.5
    assert audio.packets_sent_per_s == 100.0 and audio.packets_received_per_s == 100.0
    assert video.bytes_sent_in_bits_per_s == 600_000
    assert video.packets_received_per_s == 58.0
    assert '"bytesSent_in_bits/s": 600000.0' in video.to_json()


def test_rates_counter_reset_and_no_interval() -> None:
    before = {"audio": Totals(9000, 90, 90)}
    (audio, video) = rates(before, {"audio": Totals(1000, 10, 10)}, 1.0, t=1.0)
    assert audio.bytes_sent_in_bits_per_s == 8000  # a new stream counts from zero
    assert video.bytes_sent_in_bits_per_s == 0
    assert rates(before, before, 0.0, t=1.0) == []


# ----------------------------------------------------------------------------- consent


def test_consent_watch_disconnected_and_back() -> None:
    now = [10.0]
    states: list[tuple[str, str]] = []
    watch = ConsentWatch(lambda: now[0], lambda s, why: states.append((s, why)))
    watch.on_check(True)
    now[0] = 15.0
    watch.on_check(False)
    now[0] = 20.0
    watch.on_check(False)
    assert [s for s, _ in states] == ["disconnected"]
    assert watch.in_a_row == 2 and watch.first_silence == 15.0 and watch.last_answer == 10.0
    now[0] = 25.0
    watch.on_check(True)
    assert [s for s, _ in states] == ["disconnected", "completed"]
    assert watch.in_a_row == 0 and watch.unanswered == 2 and watch.answered == 2
    for _ in range(6):
        watch.on_check(False)
    assert [s for s, _ in states][-2:] == ["disconnected", "failed"] and watch.expired
    assert "aioice gives up" in states[-1][1]


def _pair(local: str, remote: str) -> CandidatePair:
    def c(kind: str, port: int) -> Candidate:
        return Candidate(type=kind, protocol="udp", address="203.0.113.3", port=port)  # type: ignore[arg-type]

    return CandidatePair(local=c(local, 50000), remote=c(remote, 50001))


def test_lost_reason_in_network_words() -> None:
    now = [4.0]
    watch = ConsentWatch(lambda: now[0], lambda s, why: None)
    watch.on_check(True)
    for t in (9.0, 14.0, 19.0, 24.0, 29.0, 34.0):
        now[0] = t
        watch.on_check(False)
    states = "ice failed, connection failed, dtls connected"
    assert watch.expired
    text = lost_reason(33.0, _pair("srflx", "srflx"), watch, states, None)
    assert text.startswith("consent freshness lost 33.0 s into the media phase")
    assert "[srflx↔srflx]" in text
    assert "6 ICE consent checks in a row got no answer, the first at 9.0 s" in text
    assert "the last answer at 4.0 s" in text and "gives up after 6" in text
    gone = lost_reason(33.0, _pair("relay", "relay"), watch, states, "TURN allocate failed: x")
    assert gone.startswith("the relay went away: consent freshness lost")
    assert gone.endswith("a new allocation fails too: TURN allocate failed: x")
    alive = lost_reason(33.0, _pair("relay", "srflx"), watch, states, "ok")
    assert "the TURN server still allocates" in alive


async def test_bitrate_sampler_stops_even_when_a_cancellation_is_lost(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Python 3.11's wait_for returns the result, dropping the cancellation, when getStats
    finishes just as it is cancelled; the sampler must stop anyway (it once kept a peer
    running after its call). Here wait_for always drops it."""
    import asyncio
    import time

    from nattest.peers.aiortc import bitrate

    calls = 0

    async def stats() -> dict[str, Any]:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.05)
        return {}

    async def lossy_wait_for(aw: Any, timeout: float) -> Any:
        task = asyncio.ensure_future(aw)
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            return await task  # the cancellation is lost, the report comes back

    monkeypatch.setattr(bitrate.asyncio, "wait_for", lossy_wait_for)
    sampler = bitrate.BitrateSampler(stats, lambda: 0.0, "alice")
    sampler.start()
    await asyncio.sleep(0.01)
    t0 = time.monotonic()
    await sampler.stop()
    assert time.monotonic() - t0 <= bitrate.STATS_TIMEOUT + bitrate.INTERVAL + 0.5
    n = calls
    await asyncio.sleep(bitrate.INTERVAL + 0.2)
    assert calls == n, "the sampler went on after stop()"
