"""The policy state file shared by the processes of one server: the version that serves and
the last refused reload, so every worker follows a reload made in any of them."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from service.domain.records import RefusedReload


@dataclass(frozen=True)
class PolicyState:
    version: str | None
    refused: RefusedReload | None


def read(path: Path) -> PolicyState:
    """Raises OSError or ValueError when the file is missing or unreadable."""
    document = json.loads(path.read_text())
    refused = document.get("refused")
    return PolicyState(document.get("version"), None if refused is None else RefusedReload(
        refused["version"], datetime.fromisoformat(refused["at"]), refused["trigger"],
        tuple(refused["reasons"])))


def write(path: Path, state: PolicyState) -> None:
    refused = state.refused
    document = {"version": state.version, "refused": None if refused is None else {
        "version": refused.version, "at": refused.at.isoformat(), "trigger": refused.trigger,
        "reasons": list(refused.reasons)}}
    temporary = path.with_suffix(f".{os.getpid()}.tmp")
    temporary.write_text(json.dumps(document))
    os.replace(temporary, path)  # atomic: readers see old or new, whole
