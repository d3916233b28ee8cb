"""The life of an offer: one state machine, and the one place its moves are checked.

    proposed ──ask──▶ approval_pending ──reject──▶ rejected
      │  ▲                   │    │
      │  └────withdraw───────┘    │  (an offer it cannot be granted beside was granted)
      └──grant──▶ granted ◀───────┘ grant (by approving the request, or directly)

`granted` and `rejected` are final. A rejected offer is never granted, directly or by
approving another request, and nobody asks for it again: a new decision is the way back.
An offer is granted exactly when a grant row exists for it; it is `approval_pending`
exactly when it has a pending approval request (one at most).
"""

from __future__ import annotations

from enum import StrEnum

from service.domain.vocabulary import OfferState


class OfferEvent(StrEnum):
    """What may happen to an offer."""

    ASK = "ask for approval of"
    GRANT = "grant"
    REJECT = "reject"
    WITHDRAW = "withdraw the approval request of"


TRANSITIONS: dict[tuple[OfferState, OfferEvent], OfferState] = {
    (OfferState.PROPOSED, OfferEvent.ASK): OfferState.APPROVAL_PENDING,
    (OfferState.PROPOSED, OfferEvent.GRANT): OfferState.GRANTED,
    (OfferState.APPROVAL_PENDING, OfferEvent.GRANT): OfferState.GRANTED,
    (OfferState.APPROVAL_PENDING, OfferEvent.REJECT): OfferState.REJECTED,
    (OfferState.APPROVAL_PENDING, OfferEvent.WITHDRAW): OfferState.PROPOSED,
}
FINAL = frozenset({OfferState.GRANTED, OfferState.REJECTED})


class TransitionRefused(Exception):
    """The offer's state does not allow the event; the message says why and what to do."""

    def __init__(self, offer_id: str, state: OfferState, event: OfferEvent):
        self.offer_id, self.state, self.event = offer_id, state, event
        if state == OfferState.REJECTED:
            message = (f"Offer {offer_id} was rejected, and a rejection is final: nobody "
                       "grants it or asks for it again. The way back is a new decision "
                       "(decide the incident anew under a new incident_id).")
        elif state == OfferState.GRANTED:
            message = f"Offer {offer_id} is already granted."
        elif event == OfferEvent.ASK:
            message = f"Offer {offer_id} already has a pending approval request."
        else:
            message = (f"Offer {offer_id} is {state}: there is no pending approval request "
                       f"to {event}.")
        super().__init__(message)


def next_state(offer_id: str, state: OfferState, event: OfferEvent) -> OfferState:
    """The state `event` moves the offer to, or TransitionRefused."""
    try:
        return TRANSITIONS[OfferState(state), event]
    except KeyError:
        raise TransitionRefused(offer_id, OfferState(state), event) from None
