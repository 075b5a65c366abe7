"""The impairment actions of scheduled faults (``nattest.call.faults``):

* ``impair LINK=OPTIONS``: the link's impairment becomes OPTIONS mid-call
  (``5s:impair nat-a:wan=loss:20%``), as ``nattest impair`` does on a running lab;
* ``clear LINK``: the link's impairment is removed (its wire stays, passing everything).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nattest.call.faults import Action, Fault, register_action
from nattest.errors import UsageError
from nattest.model.impair import parse_impairment

if TYPE_CHECKING:
    from nattest.backends.base import Lab
    from nattest.model.topology import Topology


def _check_link(topology: Topology, fault: Fault) -> None:
    try:
        topology.resolve_link(fault.target)
    except UsageError as e:
        raise UsageError(f"fault '{fault}': {e}") from None


def _check_impair(topology: Topology, fault: Fault) -> None:
    _check_link(topology, fault)
    try:
        parse_impairment(fault.value or "")
    except UsageError as e:
        raise UsageError(f"fault '{fault}': {e}") from None


def _impair(lab: Lab, fault: Fault) -> str:
    imp = parse_impairment(fault.value or "")
    lab.impair(fault.target, imp)
    return f"{fault.target}: {imp.describe()}"


def _clear(lab: Lab, fault: Fault) -> str:
    lab.impair(fault.target, None)
    return f"{fault.target}: impairment cleared"


register_action(Action("impair", "impair LINK=OPTIONS", _impair, _check_impair, takes_value=True))
register_action(Action("clear", "clear LINK", _clear, _check_link))
