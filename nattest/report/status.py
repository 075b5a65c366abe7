"""`nattest status` as rich tables: one per lab, a row per node, then its service URLs."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table


def print_status(console: Console, labs: list[dict[str, Any]]) -> None:
    """Print what ``backends.status.lab_status`` returned for each lab."""
    for d in labs:
        table = Table(title=f"lab {d['name']} — {d['topology']} ({d['backend']}, {d['age_s']} s)")
        for col in ("node", "kind", "addresses", "behaviour / path"):
            table.add_column(col)
        for n in d["nodes"]:
            addrs = "\n".join(f"{ifn} {', '.join(a)}" for ifn, a in n["addresses"].items())
            extra = n.get("behavior", "")
            if n.get("firewall"):
                extra += f" + firewall {n['firewall']}"
            if n["kind"] == "host":
                extra = "behind " + (" → ".join(n["behind"]) or "nothing (public)")
            for ifn, what in n.get("impair", {}).items():
                extra += f"\n{ifn}: {what}"
            table.add_row(n["node"], n["kind"], addrs, extra)
        console.print(table)
        for svc, url in d["services"].items():
            console.print(f"  {svc}: {url}")


__all__ = ["print_status"]
