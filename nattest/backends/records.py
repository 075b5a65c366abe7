"""Where running labs are recorded, so `status`, `exec` and `down` find them from any shell.

Shared by every backend: a record names the backend that built the lab, so any command
finds the right one (``nattest.backends.for_record``). Lab names are made here only
(``new_lab_name``), and claimed atomically (``create``), so two processes never share one.

A lab's folder (``/run/nattest/<lab>/`` unless ``NATTEST_RUNDIR`` says otherwise) holds
``lab.json`` (written *before* anything is created, so a killed run can always be
collected), the rendered rulesets, coturn's config and log, and ``repro.sh``.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import string
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from nattest.errors import LabError, LabExists, UsageError

PREFIX = "nt-"
"""Every kernel object of a lab starts with `nt-<lab>-`."""
LAB_NAME_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,14}[a-z0-9])?$")
"""Lab names: short, so `nt-<lab>-<node>` stays readable."""


SUFFIX_LEN = 5
"""Random characters that make a generated lab name unique (36^5 ≈ 60 million)."""
_ALPHABET = string.ascii_lowercase + string.digits


def new_lab_name(stem: str) -> str:
    """A fresh lab name from `stem` (a topology name, `mx`, `t-gw1`): `symmetri-k3f9a`.

    The stem is cut so the name fits the 16-character rule; the random suffix makes names
    unique across processes, and ``create`` refuses a name that exists (callers that
    generate names retry on ``LabExists``).
    """
    keep = 16 - SUFFIX_LEN - 1
    cleaned = re.sub(r"[^a-z0-9-]+", "-", stem.lower())[:keep].strip("-") or "lab"
    return f"{cleaned}-{''.join(secrets.choice(_ALPHABET) for _ in range(SUFFIX_LEN))}"


def rundir() -> Path:
    """Root folder of all labs' state."""
    return Path(os.environ.get("NATTEST_RUNDIR", "/run/nattest"))


def check_lab_name(name: str) -> str:
    """Validate a lab name; UsageError names the rule."""
    if not LAB_NAME_RE.match(name):
        raise UsageError(
            f"lab name {name!r}: use 1-16 lowercase letters, digits and '-' "
            "(not starting or ending with '-')"
        )
    return name


@dataclass
class LabRecord:
    """What is recorded of a running lab (plain JSON: `down` and `status` read it without
    loading pydantic, which would double their start-up time)."""

    name: str
    """Lab name."""
    backend: str = "netns"
    """Backend that built it."""
    topology_source: str = ""
    """The file it was built from."""
    topology: dict[str, Any] = field(default_factory=dict)
    """The validated topology, as data."""
    namespaces: list[str] = field(default_factory=list)
    """Namespaces it owns (planned before creation; netns backend)."""
    owner_pid: int = 0
    """PID of the process that built it."""
    created: float = 0.0
    """Unix time it was created."""
    services: dict[str, str] = field(default_factory=dict)
    """Service → URL (`turn`: `turn:203.0.113.2:3478`), no credentials."""

    def to_json(self) -> str:
        """The record as JSON text."""
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def from_json(cls, text: str | bytes) -> LabRecord:
        """A record from JSON text; ValueError naming the field that is wrong."""
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        for key, value in data.items():
            if key not in _FIELDS:
                raise ValueError(f"unknown field {key!r}")
            expected, fits = _FIELDS[key]
            if not fits(value):
                raise ValueError(f"field {key!r}: expected {expected}")
        if "name" not in data:
            raise ValueError("field 'name' is missing")
        return cls(**data)


def _str(v: object) -> bool:
    return isinstance(v, str)


def _int(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


_FIELDS: dict[str, tuple[str, Callable[[Any], bool]]] = {
    "name": ("str", _str),
    "backend": ("str", _str),
    "topology_source": ("str", _str),
    "topology": ("object", lambda v: isinstance(v, dict)),
    "namespaces": ("list of str", lambda v: isinstance(v, list) and all(map(_str, v))),
    "owner_pid": ("int", _int),
    "created": ("number", lambda v: _int(v) or isinstance(v, float)),
    "services": ("object of str", lambda v: isinstance(v, dict) and all(map(_str, v.values()))),
}
"""What each field of a record holds: (as said in errors, the check)."""


def lab_dir(name: str) -> Path:
    """Folder of one lab."""
    return rundir() / name


def create(record: LabRecord) -> Path:
    """Claim a lab name: make its folder and write its record. Fails if it exists."""
    d = lab_dir(record.name)
    d.parent.mkdir(parents=True, exist_ok=True)
    try:
        d.mkdir()
    except FileExistsError:
        raise LabExists(
            f"lab {record.name!r} already exists (see `nattest status`; "
            f"`nattest down {record.name}` removes it)"
        ) from None
    d.chmod(0o700)
    record.created = record.created or time.time()
    save(record)
    return d


def save(record: LabRecord) -> None:
    """Rewrite a lab's record atomically."""
    d = lab_dir(record.name)
    tmp = d / "lab.json.tmp"
    tmp.write_text(record.to_json())
    tmp.replace(d / "lab.json")


def load(name: str) -> LabRecord:
    """The record of a lab; LabError when there is no such lab."""
    p = lab_dir(name) / "lab.json"
    try:
        return LabRecord.from_json(p.read_bytes())
    except FileNotFoundError:
        known = ", ".join(all_names()) or "none"
        raise LabError(f"no lab named {name!r} (running labs: {known})") from None
    except (OSError, ValueError) as e:
        first = e
        raise LabError(
            f"lab {name!r}: its record {p} is unreadable ({first}); check for what is left "
            f"(`ip netns list | grep nt-{name}-`), then remove {p.parent}"
        ) from None


def all_names() -> list[str]:
    """Names of every recorded lab."""
    try:
        return sorted(p.parent.name for p in rundir().glob("*/lab.json"))
    except OSError:
        return []


def remove(name: str) -> None:
    """Forget a lab: delete its folder."""
    shutil.rmtree(lab_dir(name), ignore_errors=True)
