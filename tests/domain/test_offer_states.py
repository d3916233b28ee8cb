"""The offer state machine alone: every state and event, once."""

import pytest

from service.domain.offer_states import (
    FINAL,
    TRANSITIONS,
    OfferEvent,
    TransitionRefused,
    next_state,
)
from service.domain.vocabulary import OfferState

P, A, G, R = (OfferState.PROPOSED, OfferState.APPROVAL_PENDING, OfferState.GRANTED,
              OfferState.REJECTED)
ASK, GRANT, REJECT = OfferEvent.ASK, OfferEvent.GRANT, OfferEvent.REJECT


@pytest.mark.parametrize(("state", "event", "after"), [
    (P, ASK, A), (P, GRANT, G), (P, REJECT, None),
    (A, ASK, None), (A, GRANT, G), (A, REJECT, R),
    (G, ASK, None), (G, GRANT, None), (G, REJECT, None),
    (R, ASK, None), (R, GRANT, None), (R, REJECT, None),
])
def test_every_move(state, event, after):
    if after is None:
        with pytest.raises(TransitionRefused):
            next_state("d.1", state, event)
    else:
        assert next_state("d.1", state, event) == after


def test_granted_and_rejected_are_final_and_the_table_names_no_other_moves():
    assert {G, R} == FINAL
    assert not any(state in FINAL for state, _ in TRANSITIONS)
    assert {after for after in TRANSITIONS.values()} == {A, G, R, P}


def test_a_refusal_says_what_to_do():
    with pytest.raises(TransitionRefused, match=r"rejection is final.*a new decision"):
        next_state("d.1", "rejected", GRANT)  # stored text is read as the state
    with pytest.raises(TransitionRefused, match=r"d\.1 is already granted"):
        next_state("d.1", G, ASK)
    with pytest.raises(TransitionRefused, match="no pending approval request to reject"):
        next_state("d.1", P, REJECT)
