"""Work a new version would orphan, and work it would not: an offer that a grant on its
decision excludes whatever the policy says (one grant per remedy kind per decision; an offer
and its capped variant are alternatives) is no work left to finish, so it never holds back a
version without its kind or currency. Each refusal names the first decisions its work is on.
On SQLite and PostgreSQL (`fresh_store`: activation counts everything stored)."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.app.active_policy import ActivePolicy, PolicySource, read_policy
from service.app.decisions import Recorded, record_decision
from service.app.grants import grant_offer
from service.app.intake import parse_incident
from service.app.policy_activation import Activation, Outcome, activate
from service.config import shipped_policy
from service.domain.principal import Principal
from service.domain.vocabulary import OfferState
from service.store.database import Store
from service.store.policy_queries import active_version
from service.store.unit_of_work import UnitOfWork
from tests.app.conftest import offer
from tests.conftest import design_example
from tests.support.policy_files import copy_policy, edit, retiring_gbp, rewrite

AGENT = Principal("agent-orphans", "agent")
LEAD = Principal("lead-orphans", "team_lead")


@pytest.fixture
def gift_cards(tmp_path) -> Path:
    """The shipped policy with a remedy kind of its own, gift_card (scales, combines), which
    agents may grant: 60.00 EUR to a customer who would take one, beyond an agent's 50.00
    EUR per incident, so an agent is offered the full one (approval required) and its
    capped variant of 50.00 EUR."""
    folder = copy_policy(tmp_path / "gift_cards")
    edit(folder, "policy.yaml", "context:\n", "context:\n"
         "  gift_card_wanted:\n"
         "    type: boolean\n"
         "    description: The customer would take a gift card.\n")
    with (folder / "policy.yaml").open("a") as settings:
        settings.write("remedy_kinds:\n"
                       "  gift_card: {scales: true, combines: true, description: A gift card}\n")
    (folder / "gift_cards.yaml").write_text(
        "rules:\n"
        "  - id: gift-card\n"
        "    description: A gift card for a customer who would take one.\n"
        "    priority: 400\n"
        "    when: {context.gift_card_wanted: true}\n"
        "    then:\n"
        "      remedies:\n"
        "        - kind: gift_card\n"
        "          amount: {EUR: \"60.00\", USD: \"65.00\", GBP: \"50.00\"}\n")
    roles = folder / "roles.yaml"
    roles.write_text(roles.read_text().replace("free_upgrade]", "free_upgrade, gift_card]")
                     .replace("replacement]", "replacement, gift_card]"))
    return folder


@pytest.fixture
def serving(fresh_store):
    """Activate a folder and load it, as a server would serve it."""
    loaded: list[ActivePolicy] = []

    def serving(folder: Path) -> ActivePolicy:
        active = ActivePolicy.load(folder)
        loaded.append(active)
        assert activated(fresh_store, folder).outcome == Outcome.ACTIVATED
        return active

    yield serving
    for active in loaded:
        active.program.close()


def activated(store: Store, folder: Path) -> Activation:
    return activate(store, PolicySource.read(folder), read_policy(folder), "alice", "test")


def decided(store: Store, active: ActivePolicy, **changes) -> Recorded:
    body = design_example(**changes)
    return record_decision(store, active, AGENT, body, parse_incident(body, active.policy))


def granted(store: Store, active: ActivePolicy, who: Principal, offer_id: str) -> None:
    with UnitOfWork(store) as uow:
        grant_offer(uow, active.policy, who, offer_id)


def test_a_full_offer_beside_its_granted_capped_variant_keeps_no_kind(fresh_store, serving,
                                                                        gift_cards):
    """The reviewer's case: the agent grants the capped gift card; the full one stays
    proposed for good (granting it, or asking approval for it, is a 409: one gift card per
    decision). Going back to the shipped policy, which has no gift_card, is refused only
    while the decision has offers left that a version without gift_card could not grant
    beside it, never for the full gift card."""
    gifts = serving(gift_cards)
    recorded = decided(fresh_store, gifts, context={"gift_card_wanted": True},
                       customer_ask=None)
    full, capped = offer(recorded, "gift_card"), offer(recorded, "gift_card", "capped")
    with UnitOfWork(fresh_store) as uow:  # as its stored document says, read back
        stored = uow.decisions.get(recorded.stored.id).decision.offers
    assert [o.capped_from for o in stored if o.number == capped.number] == [full.number]
    assert capped.number == full.number + 1  # what the store's count of open work reads
    granted(fresh_store, gifts, AGENT, capped.id)

    decision = recorded.stored.id
    refused = activated(fresh_store, shipped_policy())
    assert refused.reasons == (
        "1 grant of remedy kind gift_card is on decisions with offers still open, which this "
        f"version removes (decision {decision})",)  # the store credit, discount and shipping
    for remedy in ("store_credit", "discount", "waived_shipping"):
        granted(fresh_store, gifts, LEAD, offer(recorded, remedy).id)

    assert activated(fresh_store, shipped_policy()).outcome == Outcome.ACTIVATED
    assert active_version(fresh_store) == read_policy(shipped_policy()).version
    with UnitOfWork(fresh_store) as uow:
        assert uow.offers.get(full.id).state == OfferState.PROPOSED


def test_a_gift_card_still_to_grant_keeps_its_kind(fresh_store, serving, gift_cards):
    gifts = serving(gift_cards)
    recorded = decided(fresh_store, gifts, context={"gift_card_wanted": True},
                       customer_ask=None)
    done = decided(fresh_store, gifts, context={"gift_card_wanted": True}, customer_ask=None)
    granted(fresh_store, gifts, AGENT, offer(done, "gift_card", "capped").id)

    refused = activated(fresh_store, shipped_policy())
    assert refused.outcome == Outcome.REFUSED
    assert ("2 stored offers are of remedy kind gift_card, which this version removes "
            f"(decision {recorded.stored.id})") in refused.reasons  # the other's full is not
    assert active_version(fresh_store) == read_policy(gift_cards).version


def test_offers_a_grant_excludes_keep_no_currency(fresh_store, serving, tmp_path):
    """A customer's ask of a 120.00 GBP refund, and its capped variant, 45.00 GBP of store
    credit: the agent grants the variant. The refund (its capped pair) and the small store
    credit (of its kind) can never be granted; the discount and the waived shipping can."""
    shipped = serving(shipped_policy())
    recorded = decided(fresh_store, shipped, order={
        "id": "O-orphans", "value": "120.00", "currency": "GBP", "shipping_fee": "7.50"})
    variant = offer(recorded, "store_credit", "capped")
    assert variant.number == offer(recorded, "refund").number + 1
    granted(fresh_store, shipped, AGENT, variant.id)
    retired = copy_policy(tmp_path / "retired")  # no GBP, but rates from it for the grants
    rewrite(retired, retiring_gbp)

    decision = recorded.stored.id
    assert activated(fresh_store, retired).reasons == (
        f"2 stored offers are in GBP, which this version drops (decision {decision})",)
    for remedy in ("discount", "waived_shipping"):
        granted(fresh_store, shipped, LEAD, offer(recorded, remedy).id)
    assert activated(fresh_store, retired).outcome == Outcome.ACTIVATED
    with UnitOfWork(fresh_store) as uow:
        assert [uow.offers.get(offer(recorded, remedy).id).state
                for remedy in ("refund", "store_credit")] == [OfferState.PROPOSED] * 2
