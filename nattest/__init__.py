"""nattest: a NAT traversal and ICE connectivity lab on real Linux kernels.

The package follows the data flow::

    model/      topology files → Topology (pure data: NAT behaviour, configurations)
    backends/   Topology → running Lab (netns/ by default; plug-ins by entry point)
    services/   coturn, signaling, credentials and ICE server URLs, started in a lab
    call/       CallSpec → two peers → CallResult (merge, SDP check, quality)
    peers/      the peer kinds that run inside nodes (aiortc/; plug-ins by entry point)
    checks/     verify-nat, check-turn (TURN deployments), probes, natdiscovery, STUN
    matrix/     cells, expectation tables per peer kind, verdicts
    report/     renderers only: terminal, JUnit, JSON, HTML, call text, status
    lab.py      build/open/attach/collect a lab: the front door of backends + services
    cli.py, pytest_plugin.py   thin front doors

Describe, then build::

    from nattest.model import load_topology
    from nattest.lab import open_lab
    from nattest.call.run import run_call

    with open_lab(load_topology("topologies/symmetric.yaml")) as lab:
        call = run_call(lab)
        print(call.selected_pair.short())   # prflx↔relay
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
