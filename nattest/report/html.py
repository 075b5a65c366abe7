"""The matrix as ONE self-contained HTML page: inline CSS, no external resource.

The page shows the colour grid (rows caller, columns callee) and the relay-only row, a
legend with the RFC 4787 behaviour of each configuration (mapping × filtering of each NAT,
from ``nattest.model.configs``), the cells that differ, and per cell a ``<details>`` block:
expected vs observed with the rule behind it, each peer's candidates as a Trickle-ICE-style
table (type, protocol, address, port, priority, URL), the selected pair, timings, stats,
media verdicts and both SDPs, and for a failing cell links to the evidence it kept
(``MatrixCell.evidence``: pcaps, peer logs, CallResult, repro.sh), relative to the folder
the page is written to. Every value from a result goes through ``html.escape``.
A three-line script opens the details a grid link points at; the page works without it.
"""

from __future__ import annotations

from html import escape
from pathlib import Path

from nattest.call.result import Candidate, CandidatePair, PeerResult
from nattest.matrix.verdict import SYMBOLS, TIMING_KEYS, MatrixCell, MatrixResult, Status
from nattest.model.configs import CONFIGS, behaviour
from nattest.report.html_assets import CSS as _CSS
from nattest.report.html_assets import SCRIPT as _SCRIPT
from nattest.report.html_links import evidence_block, evidence_href

_STATUS_LABEL = {
    "ok": "✔ as expected",
    "deviation": "~ deviation",
    "mismatch": "✘ differs",
    "error": "✘ differs: lab error",
    "missing": "· not run",
}
_SHORT = {"port-restricted-cone": "port-restricted", "symmetric-then-cone": "symmetric→cone"}


def e(value: object) -> str:
    """Escape any value for HTML text or a quoted attribute."""
    return escape(str(value), quote=True)


def _ms(seconds: float | None) -> str:
    return (
        "–"
        if seconds is None
        else f"{seconds * 1000:.0f} ms"
        if seconds < 1
        else f"{seconds:.2f} s"
    )


def _anchor(cell: MatrixCell) -> str:
    return "cell-" + cell.id


def _grid_cell(cell: MatrixCell | None) -> str:
    if cell is None:
        return '<td class="missing"><span class="pair">·</span></td>'
    if cell.status == "mismatch":
        sub = "expected " + " | ".join(cell.expectation.pair or ["no connection"])
    elif cell.status == "error":
        sub = "lab error"
    elif cell.status == "deviation":
        sub = f"standard: {cell.expectation.rfc_pair}"
    else:
        sub = " · ".join(p for p in (cell.path, _ms(cell.timings.get("connecting"))) if p)
    title = f"{cell.id}: {cell.why or 'as expected'}"
    relay = " relay" if cell.path == "relay" else ""
    return (
        f'<td class="{cell.status}{relay}"><a href="#{e(_anchor(cell))}" title="{e(title)}">'
        f'<span class="pair">{SYMBOLS[cell.status]} {e(cell.observed)}</span>'
        f'<span class="sub">{e(sub)}</span></a></td>'
    )


def _grid(result: MatrixResult) -> str:
    configs = result.grid_configs()
    head = "".join(f'<th title="{e(c)}">{e(_SHORT.get(c, c))}</th>' for c in configs)
    rows = []
    for caller in configs:
        tds = "".join(_grid_cell(result.cell(caller, callee)) for callee in configs)
        rows.append(f"<tr><th>{e(caller)}</th>{tds}</tr>")
    return (
        f'<table class="grid"><thead><tr><th class="corner">caller ↓ &nbsp; callee →</th>'
        f"{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _relay_grid(result: MatrixResult) -> str:
    cells = result.relay_row()
    if not cells:
        return ""
    head = "".join(f"<th>TURN over {e(c.turn_transport)}</th>" for c in cells)
    labels = {f"{c.caller} → {c.callee}" for c in cells}
    rows = "".join(
        f"<tr><th>{e(label)}</th>"
        + "".join(
            _grid_cell(c) if f"{c.caller} → {c.callee}" == label else "<td></td>" for c in cells
        )
        + "</tr>"
        for label in sorted(labels)
    )
    return (
        "<h3>Relay only (iceTransportPolicy relay)</h3>"
        f'<table class="grid"><thead><tr><th class="corner">caller → callee</th>{head}</tr>'
        f"</thead><tbody>{rows}</tbody></table>"
    )


def _configs_legend(result: MatrixResult) -> str:
    rows = []
    for config in result.grid_configs():
        chain, mapping, filtering = behaviour(config)
        rows.append(
            f"<tr><td><b>{e(config)}</b></td><td>{e(chain)}</td><td>{e(mapping)}</td>"
            f"<td>{e(filtering)}</td><td>{e(CONFIGS.get(config, ''))}</td></tr>"
        )
    return (
        "<h2>Configurations (RFC 4787)</h2>"
        '<table class="tbl"><tr><th>configuration</th><th>NATs, internet → host</th>'
        "<th>mapping</th><th>filtering</th><th>what it is</th></tr>" + "".join(rows) + "</table>"
    )


def _candidate_table(cands: list[Candidate], selected: Candidate | None) -> str:
    if not cands:
        return '<p class="muted">(none)</p>'
    rows = []
    for c in cands:
        sel = selected is not None and (c.type, c.address, c.port) == (
            selected.type,
            selected.address,
            selected.port,
        )
        url = (c.url or "–") + (f" (via {c.relay_protocol})" if c.relay_protocol else "")
        rows.append(
            f"<tr{' class=sel' if sel else ''}><td>{e(c.type)}</td><td>{e(c.protocol)}</td>"
            f'<td class="mono">{e(c.address)}</td><td class="num">{e(c.port)}</td>'
            f'<td class="num mono">{e(c.priority)}</td><td class="mono">{e(url)}</td></tr>'
        )
    return (
        '<table class="tbl"><tr><th>type</th><th>protocol</th><th>address</th><th>port</th>'
        "<th>priority</th><th>URL</th></tr>" + "".join(rows) + "</table>"
    )


_RTP_FIELDS = (
    ("packetsReceived", "packets_received"),
    ("packetsLost", "packets_lost"),
    ("jitter", "jitter"),
    ("bytesReceived", "bytes_received"),
    ("framesDecoded", "frames_decoded"),
    ("packetsSent", "packets_sent"),
    ("bytesSent", "bytes_sent"),
)


def _stats(p: PeerResult) -> str:
    """currentRoundTripTime, then one row per webrtc-internals stat, one column per kind."""
    rtt = _ms(p.stats.current_round_trip_time)
    out = f"<h4>Stats</h4><p>currentRoundTripTime <b>{e(rtt)}</b></p>"
    if not p.stats.rtp:
        return out
    head = "".join(f"<th class=num>{e(s.kind)}</th>" for s in p.stats.rtp)
    rows = []
    for label, attr in _RTP_FIELDS:
        values = [getattr(s, attr) for s in p.stats.rtp]
        cells = "".join(
            f"<td class=num>{e(_ms(v) if attr == 'jitter' else v)}</td>" for v in values
        )
        rows.append(f"<tr><td class=mono>{label}</td>{cells}</tr>")
    table = f'<table class="tbl"><tr><th>inbound / outbound RTP</th>{head}</tr>'
    return out + table + "".join(rows) + "</table>"


def _peer(p: PeerResult, sp: CandidatePair | None) -> str:
    """One peer: outcome, pairs, media, timeline, candidate tables (the pair's rows marked)."""
    m = p.media
    verdict = (
        '<span class="badge ok">media OK</span>'
        if m.ok
        else ('<span class="badge mismatch">media incomplete</span>')
    )
    outcome = "ok" if p.outcome == "connected" else "mismatch"
    items = [
        (
            "outcome",
            f'<span class="badge {outcome}">{e(p.outcome)}</span>'
            + (f" <span class=why>{e(p.reason)}</span>" if p.reason else ""),
        ),
        ("selected pair", f'<span class="mono">{_pair(sp)}</span>'),
        (f"{p.kind} nominated", f'<span class="mono">{_pair(p.selected_pair)}</span>'),
        ("time to connected", e(_ms(p.time_to_connected))),
        (
            "media",
            f"{verdict} audio {m.audio_frames} frames, video {m.video_frames} frames, "
            f"data channel {m.data_echoed}/{m.data_sent} echoed",
        ),
    ]
    if p.turn_preflight is not None:
        items.append(("TURN preflight", e(p.turn_preflight)))
    if p.sdp_check is not None and not p.sdp_check.ok:
        items.append(("SDP check", e("; ".join(p.sdp_check.problems))))
    if p.timeline:
        items.append(
            (
                "timeline",
                '<span class="mono">'
                + e(", ".join(f"{ev.machine} {ev.state} @{ev.t * 1000:.0f}ms" for ev in p.timeline))
                + "</span>",
            )
        )
    kv = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in items)
    return (
        f"<div><h3>{e(p.name)} ({e(p.role)}, policy {e(p.policy)})</h3><dl class=kv>{kv}</dl>"
        f"<h4>Local candidates</h4>{_candidate_table(p.local_candidates, sp.local if sp else None)}"
        f"<h4>Remote candidates (from SDP)</h4>"
        f"{_candidate_table(p.remote_candidates, sp.remote if sp else None)}{_stats(p)}</div>"
    )


def _pair(pair: CandidatePair | None) -> str:
    if pair is None:
        return "none"
    return f"{e(pair.local.label())} ↔ {e(pair.remote.label())} <b>[{e(pair.short())}]</b>"


def _cell_details(cell: MatrixCell, rules: dict[str, str], base: str | Path | None = None) -> str:
    exp = cell.expectation
    items = [
        ("expected", e(exp.describe())),
        ("observed", e(cell.observed + (f" ({cell.path})" if cell.path else ""))),
        ("verdict", _verdict(cell, rules)),
        (
            "rule",
            f"<b>{e(exp.rule)}</b> ({e(exp.basis)}, "
            f"{'confirmed by a real run' if exp.confirmed else 'not yet confirmed by a real run'})"
            f"<br>{e(rules.get(exp.rule, ''))}",
        ),
    ]
    if exp.rfc_pair:
        items.append(("standard pair", e(f"{exp.rfc_pair} (RFC 8445 regular nomination)")))
    if exp.note:
        items.append(("note", e(exp.note)))
    if cell.evidence is not None:
        items.append(("evidence", evidence_block(cell.evidence, base)))
    timings = " · ".join(f"{k} {_ms(cell.timings[k])}" for k in TIMING_KEYS if k in cell.timings)
    if timings:
        items.append(("timings", e(timings)))
    call = cell.result
    if call is not None:
        items.append(
            (
                "call",
                e(
                    f"topology {call.topology}, policy {call.policy}, "
                    f"TURN {call.turn_transport}, quality {call.quality:.1f}/5"
                ),
            )
        )
    kv = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in items)
    body = f"<dl class=kv>{kv}</dl>"
    if call is not None:
        peers = _peer(call.caller, call.selected_pair) + _peer(call.callee, call.callee_pair)
        body += f'<div class="peers">{peers}</div>'
        for p in (call.caller, call.callee):
            body += (
                f"<details><summary>SDP applied by {e(p.name)} (local)</summary>"
                f"<pre>{e(p.local_sdp or '(none)')}</pre></details>"
            )
    summary = (
        f'<span class="badge {cell.status}">{_STATUS_LABEL[cell.status]}</span> '
        f"<code>{e(cell.id)}</code> "
        f'<span class="mono">{e(cell.observed)}</span>'
        + ("" if cell.ok else f' <span class="muted">expected {e(exp.describe())}</span>')
    )
    return (
        f'<details class="cell {cell.status}" id="{e(_anchor(cell))}"><summary>{summary}'
        f'</summary><div class="body">{body}</div></details>'
    )


def _verdict(cell: MatrixCell, rules: dict[str, str]) -> str:
    if cell.ok:
        return "✔ as expected"
    if not cell.deviation:
        return f"<span class=why>✘ differs: {e(cell.why)}</span>"
    rule = cell.expectation.deviation_rule or ""
    return (
        f'<span class="why deviation">~ deviation: {e(cell.why)}</span>'
        f"<br><b>{e(rule)}</b> (docs/matrix.md#{e(rule)}): {e(rules.get(rule, ''))}"
    )


def _failures(result: MatrixResult, base: str | Path | None = None) -> str:
    bad = sorted(result.not_ok(), key=lambda c: c.status != "deviation")
    if not bad:
        return '<p class="pill ok">Every cell as expected.</p>'
    items = "".join(
        f'<li><span class="badge {c.status}">{_STATUS_LABEL[c.status]}</span> '
        f'<a href="#{e(_anchor(c))}"><code>{e(c.id)}</code></a>: {e(c.why)}'
        + (
            f' · <a href="{e(evidence_href(c.evidence.folder, base=base))}">evidence</a>'
            if c.evidence is not None
            else ""
        )
        + "</li>"
        for c in bad
    )
    return f'<ul class="fails">{items}</ul>'


def render_html(
    result: MatrixResult, rules: dict[str, str] | None = None, base: str | Path | None = None
) -> str:
    """The whole page. `rules` (rule id → text) defaults to the run's own table's; `base`
    is the folder the page will be in (evidence links are made relative to it)."""
    if rules is None:
        rules = result.rules
    n = result.counts()
    labels: dict[Status, str] = {
        "ok": "as expected",
        "deviation": "deviation" if n["deviation"] == 1 else "deviations",
        "mismatch": "differ" + ("s" if n["mismatch"] == 1 else ""),
        "error": "lab error" if n["error"] == 1 else "lab errors",
        "missing": "not run",
    }
    pills = "".join(
        f'<span class="pill {k}">{SYMBOLS[k]} {n[k]} {label}</span>'
        for k, label in labels.items()
        if n[k] or k in ("ok", "deviation", "mismatch")
    )
    started = result.started.strftime("%Y-%m-%d %H:%M:%S %Z").strip()
    legend = (
        '<p class="legend"><span class="pill ok">✔ as expected</span>'
        '<span class="pill deviation">~ deviation: works, but this stack selected another '
        "pair than a standard agent (RFC 8445, libwebrtc) would</span>"
        '<span class="pill mismatch">✘ differs</span><span class="pill error">✘ lab error</span>'
        '<span class="pill missing">· not run</span> Each cell shows the selected candidate pair '
        "from the caller's point of view (local type ↔ remote type, as libwebrtc's getStats), "
        "then the path and the time to connect (for a deviation, the standard pair); a dark "
        "left edge marks a relayed call. Click a cell for its details.</p>"
    )
    groups: dict[str, list[MatrixCell]] = {}
    for c in result.cells:
        key = f"caller {c.caller}" if c.policy == "all" else "relay only"
        groups.setdefault(key, []).append(c)
    cells = "".join(
        f"<h3>{e(key)}</h3>" + "".join(_cell_details(c, rules, base) for c in group)
        for key, group in groups.items()
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>nattest matrix: {e(result.summary_line())}</title><style>{_CSS}</style></head>"
        f"<body><header><h1>nattest connectivity matrix</h1>"
        f'<p class="meta">started {e(started)} · wall time {result.wall_time:.1f} s · '
        f"{e(result.machine.label())}</p>"
        + (
            f'<p class="meta"><b>{e(result.impairment_line())}</b></p>'
            if result.impairments
            else ""
        )
        + f"<div>{pills}</div></header>"
        f"<h2>Matrix</h2>{_grid(result)}{_relay_grid(result)}{legend}"
        f"{_configs_legend(result)}<h2>Not as expected</h2>{_failures(result, base)}"
        f"<h2>Cells</h2>{cells}"
        "<footer>Generated by nattest. Pairs: host, srflx, prflx, relay (RFC 8445 5.1.1); "
        "NAT behaviour: RFC 4787 mapping × filtering. The reasoning behind every expectation "
        f"is in docs/matrix.md.</footer><script>{_SCRIPT}</script></body></html>\n"
    )


def write_html(result: MatrixResult, path: str | Path, rules: dict[str, str] | None = None) -> Path:
    """Write the page (evidence links relative to its folder); returns its path."""
    p = Path(path)
    p.write_text(render_html(result, rules, base=p.parent), encoding="utf-8")
    return p
