"""Why a TURN check failed, in plain words with the fix: the failures people hit in real
deployments, each detected from what the stages recorded (pure: no network).

Per transport (``diagnose_check``) and across transports (``diagnose_report``: UDP blocked
on the client's network while TCP/TLS work). Ids are stable; docs/check-turn.md lists them.
"""

from __future__ import annotations

import ipaddress
import time

from nattest.checks.turn.client import Credentials
from nattest.checks.turn.model import Diagnosis, StepResult, TransportCheck

PRIVATE_NETS = [
    ipaddress.ip_network(n)
    for n in (
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "fc00::/7",
        "fe80::/10",
        "::1/128",
    )
]
"""Addresses no client on the internet can reach (RFC 1918, RFC 6598 CGN, loopback,
link-local, RFC 4193). Not Python's ``is_private``, which also counts the documentation
ranges the lab uses as public addresses."""

BY_CODE = {
    403: (
        "allocation-forbidden",
        "the server refused the allocation (403 Forbidden)",
        "check the server's allowed users and addresses (coturn: `allowed-peer-ip`, "
        "`denied-peer-ip`, `no-udp-relay`); the user may be barred",
    ),
    437: (
        "allocation-mismatch",
        "the server already has an allocation for this 5-tuple (437 Allocation Mismatch)",
        "retry from a new source port; a client must not reuse a port with a live allocation",
    ),
    438: (
        "stale-nonce",
        "the server kept refusing the nonce (438 Stale Nonce), even after a retry",
        "check the server's clock and `stale-nonce` setting",
    ),
    442: (
        "unsupported-transport",
        "the server does not relay UDP for this client (442 Unsupported Transport Protocol)",
        "enable UDP relaying (coturn: remove `no-udp-relay`)",
    ),
    486: (
        "quota",
        "allocation quota reached (486): this user already has as many allocations as allowed",
        "raise coturn's `user-quota`/`total-quota`, or release stale allocations (restart "
        "clients that leak them)",
    ),
    508: (
        "capacity",
        "the server is out of relay capacity (508 Insufficient Capacity)",
        "widen the relay port range (`min-port`/`max-port`) or add servers",
    ),
}
"""Allocate error codes → (id, problem, fix) (RFC 8656 19)."""


def is_private(address: str) -> bool:
    """Whether a relayed address is one no client on the internet can reach."""
    ip = ipaddress.ip_address(address.rsplit(":", 1)[0].strip("[]"))
    return any(ip in net for net in PRIVATE_NETS)


def rest_expiry(username: str | None) -> int | None:
    """The expiry of a REST API username (`<unix time>:<user>`), None if it is not one."""
    if not username or ":" not in username:
        return None
    head = username.split(":", 1)[0]
    return int(head) if head.isdigit() else None


def _credentials(step: StepResult, creds: Credentials, now: float) -> Diagnosis:
    expiry = rest_expiry(creds.username)
    if creds.mode == "rest":
        if expiry is not None and expiry < now:
            return Diagnosis(
                id="rest-expired",
                problem=f"the REST credential expired {int(now - expiry)} s ago ({step.raw})",
                fix="make fresh credentials (the username's expiry is a Unix time)",
            )
        return Diagnosis(
            id="rest-refused",
            problem=f"the server refused a fresh REST credential ({step.raw})",
            fix="check the shared secret (`static-auth-secret`), that the server runs in REST "
            "mode (`use-auth-secret`, not `lt-cred-mech` with static users: long-term and REST "
            "mixed up), and the server's clock (skewed by more than the credential lifetime)",
        )
    if expiry is not None and expiry < now:
        return Diagnosis(
            id="rest-expired",
            problem=f"the REST credential '{creds.username}' expired {int(now - expiry)} s ago "
            f"({step.raw})",
            fix="get fresh credentials from your REST service (or give --secret); if they are "
            "fresh, the server's or this machine's clock is wrong",
        )
    if expiry is not None:
        return Diagnosis(
            id="auth-mixed-up",
            problem=f"a REST-style username ('{creds.username}') with a password was refused "
            f"({step.raw})",
            fix="for a server with `use-auth-secret`, give --secret; if the credential came from "
            "your REST service, it may have expired or the server's clock is skewed",
        )
    return Diagnosis(
        id="wrong-credentials",
        problem=f"user '{creds.username}' or its password refused: {step.detail}",
        fix="check the user and password; the realm must match the server's `realm`; if the "
        "server uses REST credentials (`use-auth-secret`), give --secret instead",
    )


def _connect(step: StepResult, check: TransportCheck) -> Diagnosis | None:
    where = check.server or check.url
    host = check.url.split(":", 2)[1]
    kind = step.failure
    if kind == "dns":
        return Diagnosis(
            id="dns", problem=step.detail, fix="check the name, or pin it with --resolve NAME:IP"
        )
    if kind == "refused":
        return Diagnosis(
            id="server-down",
            problem=f"nothing listens on {where} ({check.transport}): {step.detail}",
            fix="start the server, or check the port (coturn: `listening-port`, "
            "`tls-listening-port`)",
        )
    if kind == "timeout":
        return Diagnosis(
            id="filtered",
            problem=f"no answer from {where} over {check.transport}: {step.detail}",
            fix="a firewall drops the traffic (or the host is down): open the port for "
            f"{'UDP' if check.transport == 'udp' else 'TCP'} in the server's firewall or "
            "security group",
        )
    if kind == "tls-untrusted":
        return Diagnosis(
            id="cert-untrusted",
            problem=f"the server's certificate is not trusted: {step.detail}",
            fix="install a certificate from a public CA with its full chain (`cert` = fullchain), "
            "or pass the CA to the clients (--ca FILE here)",
        )
    if kind == "tls-name":
        by_ip = host.replace(".", "").isdigit() or host.startswith("[")
        return Diagnosis(
            id="cert-name-mismatch",
            problem=f"the certificate does not name '{host}': {step.detail}"
            + (" (connecting by IP to a certificate for names)" if by_ip else ""),
            fix="use the name the certificate was issued for in the turns: URL, or get a "
            "certificate that lists this name (or IP)",
        )
    if kind == "tls-expired":
        return Diagnosis(
            id="cert-expired", problem=step.detail, fix="renew the certificate and reload coturn"
        )
    if kind in ("tls", "reset"):
        return Diagnosis(
            id="tls-failed" if kind == "tls" else "connection-reset",
            problem=step.detail,
            fix="check that the port speaks TLS (coturn: `tls-listening-port`, cert and pkey) "
            "and the TLS versions allowed",
        )
    return None


def _allocate(step: StepResult, creds: Credentials, now: float) -> Diagnosis | None:
    if step.failure == "no-challenge":
        return Diagnosis(
            id="realm-missing",
            problem=step.detail,
            fix="enable long-term credentials (coturn: `lt-cred-mech` or `use-auth-secret`) "
            "and set `realm`",
        )
    if step.failure == "rejected-credentials":
        return _credentials(step, creds, now)
    if step.code in BY_CODE:
        ident, problem, fix = BY_CODE[step.code]
        return Diagnosis(id=ident, problem=problem, fix=fix)
    if step.failure in ("timeout", "refused"):
        return Diagnosis(
            id="allocate-no-answer",
            problem=step.detail,
            fix="the server answers STUN but not TURN: check that TURN is enabled (coturn: "
            "not `stun-only`)",
        )
    return Diagnosis(id="allocate-failed", problem=step.detail, fix="see the server's log")


def _relay(step: StepResult, check: TransportCheck) -> Diagnosis | None:
    if step.failure == "permission":
        return Diagnosis(
            id="peer-denied",
            problem=f"the server refused a permission for the peer's address: {step.detail}",
            fix="the peer's address is in `denied-peer-ip` (or outside `allowed-peer-ip`): "
            "clients' relayed and public addresses must be allowed",
        )
    if step.failure == "no-data":
        return Diagnosis(
            id="relay-blocked",
            problem=f"allocations work but no data is relayed: {step.detail}",
            fix="open the relay port range (coturn `min-port`–`max-port`, default 49152–65535, "
            "UDP) in the server's firewall or security group",
        )
    if step.code in BY_CODE:  # the second allocation of the relay stage
        ident, problem, fix = BY_CODE[step.code]
        return Diagnosis(id=ident, problem=f"{problem}, at the second allocation", fix=fix)
    return Diagnosis(id="relay-failed", problem=step.detail, fix="see the server's log")


def diagnose_check(
    check: TransportCheck, creds: Credentials, now: float | None = None
) -> list[Diagnosis]:
    """The diagnoses of one transport's check."""
    now = time.time() if now is None else now
    out: list[Diagnosis] = []
    reached_privately = check.server is not None and is_private(check.server)
    if check.relayed is not None and is_private(check.relayed) and not reached_privately:
        out.append(
            Diagnosis(
                id="relay-address-private",
                problem=f"the relayed address {check.relayed} is private, though the server "
                f"was reached at {check.server}: no client on the internet can send to it",
                fix="coturn runs behind a NAT: set `external-ip=PUBLIC_IP/PRIVATE_IP` (and "
                "forward the relay port range to it)",
            )
        )
    failed = check.failed
    if failed is None:
        return out
    if out and failed.failure == "no-data":  # the private address is why nothing arrived
        out[0].problem += "; data from outside did not reach it"
        return out
    found: Diagnosis | None = None
    if failed.step in ("connect", "binding"):
        found = _connect(failed, check)
    elif failed.step == "allocate":
        found = _allocate(failed, creds, now)
    elif failed.step == "relay":
        found = _relay(failed, check)
    elif failed.step == "call":
        found = Diagnosis(
            id="call-failed",
            problem="allocations and relaying work, but a relay-only call did not: "
            + failed.detail,
            fix="check the server's log for the call's permissions and channels",
        )
    if found is not None:
        out.append(found)
    return out


def diagnose_report(checks: list[TransportCheck]) -> list[Diagnosis]:
    """Diagnoses across transports: UDP blocked on the client's network."""
    udp = [c for c in checks if c.transport == "udp"]
    stream = [c for c in checks if c.transport != "udp"]
    udp_silent = udp and all(
        c.failed is not None
        and c.failed.failure == "timeout"
        and c.failed.step in ("connect", "binding")
        for c in udp
    )
    if udp_silent and any(c.ok for c in stream):
        working = ", ".join(sorted({c.transport for c in stream if c.ok}))
        return [
            Diagnosis(
                id="udp-blocked",
                problem=f"UDP to the server gets no answer while {working} works: UDP is "
                "blocked on this client's network (or in front of the server)",
                fix="offer turn:…?transport=tcp and turns: to clients (they fall back to them), "
                "and check outbound UDP 3478 and the relay range",
            )
        ]
    return []


__all__ = ["diagnose_check", "diagnose_report", "is_private", "rest_expiry"]
