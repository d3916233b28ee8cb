"""The policy state file: what one process writes, every other reads back."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from service.domain.records import RefusedReload
from service.store import policy_state
from service.store.policy_state import PolicyState

REFUSED = RefusedReload("v2", datetime(2026, 5, 1, 9, 0, 1, 5, tzinfo=UTC), "api:someone",
                        ("rules.yaml:3: unknown field",))


def test_the_state_round_trips(tmp_path):
    path = tmp_path / "policy-state.json"
    policy_state.write(path, PolicyState("v1", REFUSED))
    assert policy_state.read(path) == PolicyState("v1", REFUSED)
    policy_state.write(path, PolicyState("v3", None))
    assert policy_state.read(path) == PolicyState("v3", None)
    assert [p.name for p in tmp_path.iterdir()] == ["policy-state.json"]  # no temporary left


def test_the_file_keeps_its_first_format(tmp_path):
    path = tmp_path / "policy-state.json"
    policy_state.write(path, PolicyState("v1", REFUSED))
    assert json.loads(path.read_text()) == {"version": "v1", "refused": {
        "version": "v2", "at": "2026-05-01T09:00:01.000005+00:00", "trigger": "api:someone",
        "reasons": ["rules.yaml:3: unknown field"]}}


def test_an_unreadable_file_is_an_error_the_caller_handles(tmp_path):
    path = tmp_path / "policy-state.json"
    path.write_text("{not json")
    with pytest.raises(ValueError):
        policy_state.read(path)
