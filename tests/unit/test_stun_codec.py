"""nattest's minimal STUN Binding codec, checked against aioice's full one (the oracle)."""

from __future__ import annotations

import pytest
from aioice import stun

from nattest.checks.stun import binding_request, parse_answer


def test_request_is_a_binding_request_to_aioice() -> None:
    raw, tid = binding_request()
    msg = stun.parse_message(raw)
    assert (msg.message_method, msg.message_class) == (stun.Method.BINDING, stun.Class.REQUEST)
    assert msg.transaction_id == tid


@pytest.mark.parametrize("address", ["203.0.113.12", "2001:db8::7"])
def test_success_with_addresses(address: str) -> None:
    _, tid = binding_request()
    msg = stun.Message(stun.Method.BINDING, stun.Class.RESPONSE, transaction_id=tid)
    msg.attributes["XOR-MAPPED-ADDRESS"] = (address, 40017)
    msg.attributes["MAPPED-ADDRESS"] = (address, 40017)
    msg.attributes["OTHER-ADDRESS"] = ("203.0.113.3", 3479)
    msg.attributes["SOFTWARE"] = "Coturn-4.6"  # an attribute it skips, with padding
    answer = parse_answer(bytes(msg))
    assert answer.success and answer.transaction_id == tid
    assert answer.attributes["XOR-MAPPED-ADDRESS"] == (address, 40017)
    assert answer.attributes["MAPPED-ADDRESS"] == (address, 40017)
    assert answer.attributes["OTHER-ADDRESS"] == ("203.0.113.3", 3479)


def test_error_code() -> None:
    _, tid = binding_request()
    msg = stun.Message(stun.Method.BINDING, stun.Class.ERROR, transaction_id=tid)
    msg.attributes["ERROR-CODE"] = (420, "Unknown Attribute")
    answer = parse_answer(bytes(msg))
    assert not answer.success
    assert answer.attributes["ERROR-CODE"] == (420, "Unknown Attribute")


@pytest.mark.parametrize(
    "data",
    [b"", b"\x00" * 19, bytes(stun.Message(stun.Method.ALLOCATE, stun.Class.RESPONSE, b"x" * 12))],
    ids=["empty", "short", "allocate-response"],
)
def test_not_a_binding_response(data: bytes) -> None:
    with pytest.raises(ValueError):
        parse_answer(data)
