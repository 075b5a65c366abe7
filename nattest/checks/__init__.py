"""Checks of what a lab or a deployment really does, measured with real packets.

- ``verify``: `nattest verify-nat`, every NAT of a lab against its declaration (RFC 5780);
- ``natdiscovery``: coturn's ``turnutils_natdiscovery`` run inside a node, and its parser;
- ``probe``: an in-process RFC 4787 probe over sockets opened inside lab nodes (ms);
- ``stun``: a minimal STUN Binding client (readiness probes, mapped addresses);
- ``turn/``: `nattest check-turn`, a TURN deployment stage by stage, with diagnoses.
"""
