"""Putting a wire's impairment in place, on a lab being built or a running one.

``apply_wire`` loads what ``backends.wires`` renders (nftables, NFQUEUE rules, tbf) into
the wire's namespace and writes the shaper's config; ``start_shaper`` starts the shaper
there as a lab process; ``splice_wire`` puts a wire into a link of a running lab that has
none. The link keeps its MAC addresses (the wire's bridge side takes the node's), so the
network's ARP caches stay right and traffic resumes at once; the node's addresses and
routes on that interface are put back from the plan, and its conntrack state (its NAT
mappings) is untouched.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

from nattest.backends.netns import namespaces
from nattest.backends.netns.runner import Runner, in_netns
from nattest.backends.wires import (
    NET_SIDE,
    Wire,
    shaper_config,
    wire_configure,
    wire_queue_rules,
    wire_ruleset,
    wire_sysctls,
    wire_tc,
)
from nattest.errors import LabError

if TYPE_CHECKING:
    from nattest.backends.base import Process
    from nattest.backends.netns.lab import NetnsLab

SHAPER = "nattest.impair.shaper"
"""The shaper's module."""
APPLY_TIMEOUT = 3.0
"""Seconds a running shaper may take to pick a new config up."""

log = logging.getLogger("nattest.backends.netns")


def wire_dir(workdir: Path) -> Path:
    """Where wires keep their configs, rulesets and logs."""
    return workdir / "wires"


def config_path(workdir: Path, w: Wire) -> Path:
    """The shaper config of wire `w`."""
    return wire_dir(workdir) / f"{w.node}.{w.ifname}.json"


def generation(workdir: Path, w: Wire) -> int:
    """The generation of the wire's current config (0: none yet)."""
    try:
        return int(json.loads(config_path(workdir, w).read_text())["generation"])
    except (OSError, ValueError, KeyError):
        return 0


def apply_wire(runner: Runner, workdir: Path, w: Wire, *, ruleset: bool = True) -> int:
    """Load the wire's rules and rate limits and write its shaper config; returns the
    config's generation. `ruleset=False`: the nftables table is loaded already (a build)."""
    ns = w.namespace
    folder = wire_dir(workdir)
    folder.mkdir(exist_ok=True)
    if ruleset:
        text = wire_ruleset(w)
        (workdir / f"{ns}.nft").write_text(text)
        runner.run(in_netns(ns, ["nft", "-f", "-"]), input=text, node=ns)
    runner.run(in_netns(ns, ["iptables-restore"]), input=wire_queue_rules(w), node=ns)
    for argv in wire_tc(w):
        # deleting a rate limit that is not there is fine
        runner.run(in_netns(ns, argv), node=ns, check=argv[2] != "del", record=argv[2] != "del")
    gen = generation(workdir, w) + 1
    path = config_path(workdir, w)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(shaper_config(w, gen, seed=_seed(w)))
    tmp.replace(path)
    return gen


def _seed(w: Wire) -> int | None:
    value = os.environ.get("NATTEST_IMPAIR_SEED")
    return int(value) if value and value.isdigit() else None


def start_shaper(lab: NetnsLab, w: Wire) -> Process:
    """Start the wire's shaper (warm when possible) and wait until it runs its config."""
    path = config_path(lab.workdir, w)
    with path.with_suffix(".log").open("ab") as logf:
        proc = lab.spawn_python_in(w.namespace, SHAPER, ["--config", str(path)], log=logf)
    wait_applied(lab.workdir, w, generation(lab.workdir, w), proc)
    return proc


def wait_applied(workdir: Path, w: Wire, gen: int, proc: Process | None = None) -> None:
    """Until the wire's shaper reports generation `gen`; LabError naming its log if not."""
    path = config_path(workdir, w)
    applied = path.with_name(path.name + ".applied")
    deadline = time.monotonic() + APPLY_TIMEOUT
    while time.monotonic() < deadline:
        try:
            if json.loads(applied.read_text())["generation"] >= gen:
                return
        except (OSError, ValueError, KeyError):
            pass
        if proc is not None and proc.poll() is not None:
            break
        time.sleep(0.005)
    tail = _tail(path.with_suffix(".log"))
    raise LabError(f"impairment of {w.link}: the shaper did not take its config ({tail})")


def _tail(path: Path) -> str:
    try:
        lines = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return "no log"
    return " | ".join(lines[-3:]) or "empty log"


def splice_wire(lab: NetnsLab, w: Wire, port: str, index: int) -> None:
    """Put wire `w` into its link on a running lab: the node's interface is made again
    (same name, index and MAC) towards the wire, whose bridge side becomes the old port."""
    r, node_ns = lab.runner, lab.plan.namespaces[w.node]
    net_ns = lab.plan.namespaces[lab.topology.attachments(w.node)[0][1]]
    for ifname, net, _ in lab.topology.attachments(w.node):
        if ifname == w.ifname:
            net_ns = lab.plan.namespaces[net]
    mac = _mac(lab, node_ns, w.ifname)
    from nattest.backends.plan import veth_lines

    r.run(["ip", "netns", "add", w.namespace])
    lab.inodes.add(namespaces.inode(w.namespace))
    r.run(["ip", "-n", node_ns, "link", "del", w.ifname])
    lines = veth_lines(w.ifname, index, node_ns, port, net_ns, w)
    r.run(["ip", "-batch", "-"], input="\n".join(lines) + "\n")
    r.run(["ip", "-n", w.namespace, "link", "set", NET_SIDE, "address", mac])
    r.run(["ip", "-n", node_ns, "link", "set", w.ifname, "address", mac])
    lab.write_sysctls(w.namespace, wire_sysctls())
    r.run(
        ["ip", "-n", net_ns, "-batch", "-"],
        input=f"link set {port} master br0\nlink set {port} up\n",
    )
    r.run(["ip", "-n", w.namespace, "-batch", "-"], input="\n".join(wire_configure(w)) + "\n")
    own = [ln for ln in lab.plan.configure[node_ns] if _concerns(ln, w.ifname, lab, w.node)]
    r.run(["ip", "-n", node_ns, "-batch", "-"], input="\n".join(own) + "\n")


def _concerns(line: str, ifname: str, lab: NetnsLab, node: str) -> bool:
    """Whether a node's configure line is about interface `ifname` (its address, link,
    or a route whose next hop is on that interface's network)."""
    if line.endswith(f"dev {ifname}") or line == f"link set {ifname} up":
        return True
    if line.startswith("route replace"):
        via = line.split(" via ")[-1].split()[0]
        for name, net, _ in lab.topology.attachments(node):
            if name == ifname and _in_subnet(via, str(lab.topology.networks[net].subnet)):
                return True
    return False


def _in_subnet(address: str, subnet: str) -> bool:
    from ipaddress import IPv4Address, IPv4Network

    return IPv4Address(address) in IPv4Network(subnet)


def _mac(lab: NetnsLab, ns: str, ifname: str) -> str:
    out = lab.runner.run(["ip", "-n", ns, "-o", "link", "show", ifname], record=False).stdout
    parts = out.split()
    if "link/ether" not in parts:
        raise LabError(f"lab {lab.name}: no MAC address on {ns} {ifname}")
    return parts[parts.index("link/ether") + 1]


__all__ = ["apply_wire", "config_path", "splice_wire", "start_shaper", "wait_applied", "wire_dir"]
