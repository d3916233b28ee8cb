"""Recording what became of a decision."""

from __future__ import annotations

import pytest

from service.app.decisions import find_decision
from service.app.errors import NotFound
from service.app.outcomes import record_outcome


def test_an_outcome_is_recorded_and_found_with_its_decision(decide, staff, run, store):
    agent = staff("agent")
    decision_id = decide(agent).stored.id
    outcome = run(lambda uow: record_outcome(uow, agent, decision_id, True, satisfied=False,
                                             note="took the credit"))
    assert (outcome.decision_id, outcome.accepted, outcome.satisfied, outcome.stayed) == (
        decision_id, True, False, None)
    assert (outcome.note, outcome.principal) == ("took the credit", agent.id)
    later = run(lambda uow: record_outcome(uow, agent, decision_id, False, stayed=True))
    assert find_decision(store, decision_id).outcomes == (outcome, later)


def test_an_outcome_of_an_unknown_decision_is_not_found(staff, run):
    with pytest.raises(NotFound, match="nope"):
        run(lambda uow: record_outcome(uow, staff("agent"), "nope", True))
