"""The HTML report's stylesheet and script (``html`` renders the page around them)."""

CSS = """
:root{--ok:#137333;--ok-bg:#e6f4ea;--bad:#c5221f;--bad-bg:#fce8e6;--err:#a50e0e;
--err-bg:#f6d4d2;--dev:#9a5b00;--dev-bg:#fef3d6;--none:#80868b;--none-bg:#f1f3f4;--line:#dadce0;--ink:#202124;--muted:#5f6368}
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--ink);
margin:0;padding:24px 32px;background:#fff}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 10px}
h3{font-size:14px;margin:18px 0 8px}h4{font-size:13px;margin:12px 0 6px}
code,pre,.mono{font-family:ui-monospace,"SFMono-Regular",Menlo,Consolas,monospace;font-size:12px}
.meta{color:var(--muted);margin:0 0 10px}
.pill{display:inline-block;border-radius:12px;padding:2px 10px;margin-right:6px;font-weight:600}
.ok:not(details){background:var(--ok-bg);color:var(--ok)}
.mismatch:not(details){background:var(--bad-bg);color:var(--bad)}
.error:not(details){background:var(--err-bg);color:var(--err)}
.deviation:not(details){background:var(--dev-bg);color:var(--dev)}
.missing:not(details){background:var(--none-bg);color:var(--none)}
.grid td.relay{box-shadow:inset 4px 0 0 rgba(0,0,0,.18)}
table{border-collapse:collapse}
.grid th,.grid td{border:1px solid var(--line);text-align:center;padding:0}
.grid thead th{padding:6px 8px;font-size:12px;background:#f8f9fa;min-width:118px}
.grid tbody th{padding:6px 12px;text-align:left;background:#f8f9fa;font-size:12px;
white-space:nowrap}
.grid .corner{font-weight:400;color:var(--muted);text-align:left}
.grid td a{display:block;padding:7px 6px;color:inherit;text-decoration:none;min-height:46px}
.grid td a:hover{outline:2px solid #1a73e8;outline-offset:-2px}
.grid .pair{font:600 13px ui-monospace,Menlo,Consolas,monospace;display:block}
.grid .sub{font-size:11px;opacity:.85;display:block}
.legend{color:var(--muted);font-size:12px;margin:8px 0}
.legend .pill{font-weight:400;font-size:11px}
.tbl{border:1px solid var(--line);font-size:12px;margin:4px 0 8px}
.tbl th,.tbl td{border-bottom:1px solid var(--line);padding:3px 8px;text-align:left;
vertical-align:top}
.tbl th{background:#f8f9fa;font-weight:600}
.tbl tr.sel td{background:#e8f0fe;font-weight:600}
.num{text-align:right!important;font-variant-numeric:tabular-nums}
details.cell{border:1px solid var(--line);border-left:6px solid var(--none);border-radius:4px;
margin:6px 0;background:#fff}
details.cell.ok{border-left-color:var(--ok)}details.cell.mismatch{border-left-color:var(--bad)}
details.cell.error{border-left-color:var(--err)}details.cell.deviation{border-left-color:var(--dev)}
details.cell>summary{cursor:pointer;padding:7px 12px;list-style-position:inside}
details.cell>summary code{font-weight:600;font-size:13px}
details.cell[open]>summary{border-bottom:1px solid var(--line);background:#f8f9fa}
.body{padding:8px 14px 14px}
.kv{display:grid;grid-template-columns:max-content 1fr;gap:3px 14px;margin:6px 0}
.kv dt{color:var(--muted)}.kv dd{margin:0}
.peers{display:grid;grid-template-columns:repeat(auto-fit,minmax(520px,1fr));gap:0 24px}
.badge{display:inline-block;padding:0 6px;border-radius:3px;font-size:11px;font-weight:600}
pre{background:#f8f9fa;border:1px solid var(--line);padding:8px;overflow:auto;max-height:360px;
margin:4px 0;white-space:pre}
.muted{color:var(--muted)}.why{color:var(--bad);font-weight:600}
.why.deviation{color:var(--dev);background:none}
ul.fails{padding-left:20px}ul.fails li{margin:3px 0}
footer{margin-top:32px;color:var(--muted);font-size:12px}
"""

SCRIPT = """
function openTarget(){var d=document.getElementById(location.hash.slice(1));
if(d&&d.tagName==="DETAILS"){d.open=true;}}
window.addEventListener("hashchange",openTarget);openTarget();
"""
