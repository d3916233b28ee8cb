"""The decision core: incident + history + policy + caller's role → decision. Pure: no I/O.

Which rules fire is asked of `fired`, a function of the encoded fact: the engine adapter in
production, the reference evaluator in tests. Everything else here is plain arithmetic on
Decimal money, so the same input always gives the same decision.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal

from service.domain.fields import encoded, fact_values
from service.domain.grant_now import GrantNow, grant_now
from service.domain.grant_rule import (
    GrantedSoFar,
    OfferToGrant,
    RunningTotals,
    abuse_words,
    approver_role,
    approvers,
    may_grant_alone,
    most_any_role_may_grant,
    room,
)
from service.domain.incident import CustomerAsk, History, Incident, Order
from service.domain.money import Money, money_text, round_down_money
from service.domain.offer import Offer
from service.domain.policy_terms import (
    DerivedTerms,
    PolicyTerms,
    RemedyProposalTerms,
    RoleTerms,
    RuleTerms,
    Step,
)
from service.domain.pricing import (
    ask_value,
    basis_value,
    ceiling,
    percent_of,
    proposal_value,
    stated_percent,
    worth_in_kind,
)
from service.domain.vocabulary import (
    ORDER_VALUES,
    STEPS,
    Approval,
    Basis,
    FactorEffect,
    OfferSource,
    OfferVariant,
    Outlook,
)

__all__ = ["Candidate", "Decision", "FactorUse", "FiredRules", "Offer", "decide"]

FiredRules = Callable[[dict], list[str]]


@dataclass(frozen=True)
class FactorUse:
    name: str
    effect: FactorEffect
    rule: str


@dataclass(frozen=True)
class EntitlementUse:
    """An obligation the decision carries, and the rule that granted it."""

    name: str
    description: str
    rule: str


@dataclass(frozen=True)
class Withdrawn:
    """An exemption that applied: what `rule` withdrew, why, and from which rules' proposals
    (empty when no other fired rule had proposed it)."""

    what: str  # remedy or entitlement
    name: str
    rule: str
    reason: str
    from_rules: tuple[str, ...] = ()


@dataclass(frozen=True)
class Candidate:
    """A remedy worth offering, before anyone's limits are looked at."""

    kind: str
    value: Decimal
    percent: Decimal | None
    rule: str | None
    reason: str
    source: OfferSource


@dataclass(frozen=True)
class Decision:
    incident_id: str
    policy_name: str
    policy_version: str
    role: str
    prior_failures: int
    outlook: Outlook
    factors: tuple[FactorUse, ...]
    steps: tuple[Step, ...]
    offers: tuple[Offer, ...]
    trace: tuple[RuleTerms, ...]
    notes: tuple[str, ...] = field(default=())
    # The offers the caller may grant together now (None: stored before it was decided).
    grant_now: GrantNow | None = None
    entitlements: tuple[EntitlementUse, ...] = ()
    withdrawn: tuple[Withdrawn, ...] = ()
    # What was already granted when it was decided (History.granted): replaying it as it
    # stood needs it.
    granted: GrantedSoFar = field(default_factory=GrantedSoFar)


def decide(incident: Incident, history: History, policy: PolicyTerms, role: str,
           fired: FiredRules) -> Decision:
    """What to do and offer for the incident. Which offers the caller (`role`) may grant
    now depends on what is already granted (`history.granted`, converted into the order's
    currency at the policy's rates: money.NoExchangeRate if a rate is missing); the offers
    proposed do not depend on the caller."""
    caller = policy.roles[role]
    currency = incident.order.currency
    totals = history.granted.in_currency(currency, policy.exchange_rates)
    prior_failures = max(incident.customer.prior_failures or 0, history.prior_failures)
    values = fact_values(incident, prior_failures, policy.derived)
    rules = first_hits([policy.rules_by_id[rule_id]
                        for rule_id in fired(encoded(values, policy.fields))])
    notes: list[str] = unknown_derived(policy.derived, values, currency)
    factors = merge_factors(rules)
    withdrawn = exemptions(rules)
    candidates = remedy_candidates(rules, incident, policy, notes, withdrawn, values)
    offers = tuple(with_approvals(candidates, caller, policy, incident.order, totals, notes))
    return Decision(
        incident_id=incident.incident_id,
        policy_name=policy.name,
        policy_version=policy.version,
        role=role,
        prior_failures=prior_failures,
        outlook=recovery_outlook(factors, policy.unlikely_at_hurts),
        factors=factors,
        steps=merge_steps(rules),
        offers=offers,
        trace=tuple(rules),
        notes=tuple(notes),
        grant_now=grant_now(offers, caller, policy, totals, currency,
                            policy.grant_preference, ask_first=policy.grant_ask_first,
                            ceiling=ceiling(incident.order, policy.max_compensation_percent)),
        entitlements=merge_entitlements(rules, withdrawn),
        withdrawn=tuple(withdrawn),
        granted=history.granted,
    )


def unknown_derived(derived: tuple[DerivedTerms, ...], values: Mapping[str, object],
                    currency: str) -> list[str]:
    """A note for each derived fact that is unknown although nothing it is computed from is
    missing (a whole number that comes to 1.5), so that it is never silently missing."""
    notes = []
    for fact in derived:
        if values.get(fact.path) is None:
            note = fact.unknown_note(values, currency)
            if note:
                notes.append(note)
    return notes


def first_hits(rules: list[RuleTerms]) -> list[RuleTerms]:
    """The fired rules, keeping of each `hit: first` decision table only its first row that
    fired (rules come in firing order: a table's rows share its priority, in row order)."""
    seen: set[str] = set()
    kept = []
    for rule in rules:
        group = rule.first_of
        if group is not None:
            if group in seen:
                continue
            seen.add(group)
        kept.append(rule)
    return kept


def exemptions(rules: list[RuleTerms]) -> list[Withdrawn]:
    """What the fired rules withdraw, each with the other fired rules whose proposal it
    takes back."""
    found = []
    for rule in rules:
        for withdrawal in rule.withdrawals:
            if withdrawal.what == "remedy":
                proposers = [r.id for r in rules if r.id != rule.id
                             and any(p.kind == withdrawal.name for p in r.remedies)]
            else:
                proposers = [r.id for r in rules if r.id != rule.id
                             and any(e.name == withdrawal.name for e in r.entitlements)]
            found.append(Withdrawn(withdrawal.what, withdrawal.name, rule.id, withdrawal.reason,
                                   tuple(proposers)))
    return found


def withdrawn_by(withdrawn: list[Withdrawn], what: str, name: str, rule: str) -> bool:
    """Whether another fired rule withdrew this rule's proposal of `name`."""
    return any(w.what == what and w.name == name and w.rule != rule for w in withdrawn)


def merge_entitlements(rules: list[RuleTerms],
                       withdrawn: list[Withdrawn]) -> tuple[EntitlementUse, ...]:
    """Each entitlement once, as the first (highest-priority) rule that granted it says,
    unless another fired rule withdrew it."""
    seen: dict[str, EntitlementUse] = {}
    for rule in rules:
        for entitlement in rule.entitlements:
            if not withdrawn_by(withdrawn, "entitlement", entitlement.name, rule.id):
                seen.setdefault(entitlement.name, EntitlementUse(
                    entitlement.name, entitlement.description, rule.id))
    return tuple(seen.values())


def merge_factors(rules: list[RuleTerms]) -> tuple[FactorUse, ...]:
    """Each named factor once, as the first (highest-priority) rule that named it says."""
    seen: dict[str, FactorUse] = {}
    for rule in rules:
        for factor in rule.factors:
            seen.setdefault(factor.name, FactorUse(factor.name, factor.effect, rule.id))
    return tuple(seen.values())


def recovery_outlook(factors: tuple[FactorUse, ...], unlikely_at_hurts: int) -> Outlook:
    """likely only when nothing hurts and something helps; unlikely when a factor blocks
    recovery or enough factors hurt; uncertain otherwise."""
    hurts = sum(f.effect == FactorEffect.HURTS for f in factors)
    if any(f.effect == FactorEffect.BLOCKS for f in factors) or hurts >= unlikely_at_hurts:
        return Outlook.UNLIKELY
    if hurts == 0 and any(f.effect == FactorEffect.HELPS for f in factors):
        return Outlook.LIKELY
    return Outlook.UNCERTAIN


def merge_steps(rules: list[RuleTerms]) -> tuple[Step, ...]:
    """The recovery sequence in its natural order; the soonest follow-up wins."""
    chosen: dict[str, Step] = {}
    for rule in rules:
        for step in rule.steps:
            known = chosen.get(step.step)
            if known is None or (step.after_days is not None and
                                 (known.after_days is None or step.after_days < known.after_days)):
                chosen[step.step] = step
    return tuple(chosen[name] for name in STEPS if name in chosen)


def remedy_candidates(rules: list[RuleTerms], incident: Incident, policy: PolicyTerms,
                      notes: list[str], withdrawn: list[Withdrawn] | None = None,
                      facts: Mapping[str, object] | None = None) -> list[Candidate]:
    """What to offer, whoever asks: one candidate per remedy kind, the largest proposed (of
    those no other fired rule withdrew), within its ceiling and within what some role may
    grant. For a kind fixed by law only the largest is due: when no role may grant it, the
    kind is left out, never offered at a smaller amount another rule proposed."""
    order = incident.order
    proposed: dict[str, list[tuple[Decimal, RuleTerms, RemedyProposalTerms]]] = {}
    for rule in rules:
        for proposal in rule.remedies:
            if withdrawn_by(withdrawn or [], "remedy", proposal.kind, rule.id):
                continue
            value = proposal_value(proposal, order, facts)
            if value is not None and value < 0:
                notes.append(f"{rule.id}: {proposal.kind} left out, it comes to less than "
                             "nothing here")
            elif value:
                proposed.setdefault(proposal.kind, []).append((value, rule, proposal))
            elif value is None:
                notes.append(f"{rule.id}: {proposal.kind} left out, {_unknown(proposal, order)}")
            else:
                notes.append(f"{rule.id}: {proposal.kind} left out, it is worth nothing here")
    candidates = []
    due_unoffered: dict[str, tuple[Decimal, str]] = {}  # statutory kinds no role may grant
    for kind, options in proposed.items():  # kinds in the order they were first proposed
        # Largest first; on a tie the higher-priority rule (stable sort keeps firing order).
        for value, rule, proposal in sorted(options, key=lambda o: o[0], reverse=True):
            kept = bounded(kind, value, order, policy, rule.id, notes)
            if kept is None:
                if policy.remedy_kinds[kind].statutory:
                    # The law makes the largest due: a smaller proposal is not what is due.
                    due_unoffered[kind] = (value, rule.id)
                    break
                continue
            percent = proposal.percent if proposal.basis == Basis.PERCENT else None
            if percent is not None:  # held lower (its cap, a ceiling) or moved by rounding
                percent = stated_percent(percent, kept, order)
            candidates.append(Candidate(kind, kept, percent, rule.id,
                                        proposal.reason or rule.description, OfferSource.POLICY))
            break
    ask = incident.customer_ask
    if ask is not None:
        asked = ask_candidate(ask, order, policy, candidates, withdrawn or [], notes,
                              due_unoffered)
        if asked is not None:
            candidates = [asked, *[c for c in candidates
                                   if (c.kind, c.value) != (asked.kind, asked.value)]]
    return candidates


def _unknown(proposal: RemedyProposalTerms, order: Order) -> str:
    """Why a proposal's value is unknown, in words."""
    if proposal.basis in ORDER_VALUES and basis_value(proposal.basis, order) is None:
        return f"its value is unknown here: the order gives no {proposal.basis}"
    return ("its value is unknown here (a fact it or its cap is computed from is missing), "
            "or it divides by zero, or it is beyond ±1,000,000,000")


def ask_candidate(ask: CustomerAsk, order: Order, policy: PolicyTerms,
                  proposed: list[Candidate], withdrawn: list[Withdrawn],
                  notes: list[str],
                  due_unoffered: Mapping[str, tuple[Decimal, str]] | None = None,
                  ) -> Candidate | None:
    """The customer's ask as an offer, held to what the policy allows: left out when a fired
    rule withdrew its kind; left out for a kind fixed by law (the rules' offer of what is due
    stands, whatever is asked, more or less; `due_unoffered`: the amount a rule makes due of
    such a kind that no role may grant, and the rule); no more than a remedy given in kind is
    worth, when the order says (waiving a shipping fee of 7.50 is worth 7.50, whatever is
    asked); then within the kind's ceiling and what some role may grant. A percent asked is
    restated when the value offered is not that percent of the order (held lower, or moved
    by rounding to the currency's minor unit)."""
    kind, currency = ask.remedy, order.currency
    withdrawal = next((w for w in withdrawn if w.what == "remedy" and w.name == kind), None)
    if withdrawal is not None:
        notes.append(f"customer_ask: {kind} left out, {withdrawal.rule} withdrew it: "
                     f"{withdrawal.reason}")
        return None
    if policy.remedy_kinds[kind].statutory:  # the law fixes it, not the ask: more or less
        due = next((c for c in proposed if c.kind == kind), None)
        unoffered = (due_unoffered or {}).get(kind)
        if due is None and unoffered is not None:
            notes.append(f"customer_ask: {kind} left out, it is fixed by law: "
                         f"{money_text(unoffered[0], currency)} as {unoffered[1]} makes it "
                         "due, whatever is asked, and no role may grant that")
        elif due is None:
            notes.append(f"customer_ask: {kind} left out, it is fixed by law and no rule "
                         "makes it due here")
        else:
            notes.append(f"customer_ask: {kind} is fixed by law: "
                         f"{money_text(due.value, currency)} as {due.rule} makes it due, "
                         "whatever is asked")
        return None
    asked = ask_value(ask, order)
    worth = worth_in_kind(kind, order)
    value = asked if asked is None or worth is None else min(asked, worth)
    if not value:
        notes.append(f"customer_ask: {kind} is worth nothing for this order")
        return None
    if value != asked:
        notes.append(f"customer_ask: {kind} capped at {money_text(value, currency)}, what it "
                     "is worth for this order")
    kept = bounded(kind, value, order, policy, "customer_ask", notes)
    if kept is None:
        return None
    percent = ask.percent
    if percent is not None:
        percent = stated_percent(percent, kept, order)
    return Candidate(kind, kept, percent, None, "What the customer asked for",
                     OfferSource.CUSTOMER_ASK)


def kind_ceiling(kind: str, order: Order, policy: PolicyTerms) -> tuple[Decimal, str] | None:
    """The most one offer of this kind may be worth, and why in words; None for a kind
    fixed by law."""
    terms = policy.remedy_kinds[kind]
    if terms.statutory:
        return None
    if terms.ceiling_percent is not None:
        return (ceiling(order, terms.ceiling_percent),
                f"the ceiling of {terms.ceiling_percent}% of the order value the policy sets "
                f"for {kind}")
    return (ceiling(order, policy.max_compensation_percent),
            f"the goodwill ceiling of {policy.max_compensation_percent}% of the order value "
            "(compensation beyond it lowers loyalty; kinds fixed by law are exempt)")


def bounded(kind: str, value: Decimal, order: Order, policy: PolicyTerms, source: str,
            notes: list[str]) -> Decimal | None:
    """Apply the kind's ceiling, then keep the value within the most any role may grant."""
    currency = order.currency
    scales = policy.remedy_kinds[kind].scales
    limit = kind_ceiling(kind, order, policy)
    if limit is not None and value > limit[0]:
        if not scales:
            notes.append(f"{source}: {kind} left out, it exceeds {limit[1]}")
            return None
        if limit[0] <= 0:  # an order worth nothing: a gesture worth 0.00 is none
            notes.append(f"{source}: {kind} left out, {limit[1]} is nothing for this order")
            return None
        notes.append(f"{source}: {kind} capped at {limit[1]}")
        value = limit[0]
    top = policy.grantable_limit(kind, currency)
    if value > top:
        statutory = policy.remedy_kinds[kind].statutory  # never held lower, if it scales too
        if not scales or not top or statutory:
            due = (", what the law makes due here (no smaller amount is offered instead)"
                   if statutory else "")
            notes.append(f"{source}: {kind} left out, no role may grant "
                         f"{money_text(value, currency)}{due}")
            return None
        value = round_down_money(top, currency)
        if not value:
            notes.append(f"{source}: {kind} left out, no role may grant {kind} here")
            return None
        notes.append(f"{source}: {kind} capped at {money_text(top, currency)}, the most any "
                     "role may grant")
    return value


def with_approvals(candidates: list[Candidate], caller: RoleTerms, policy: PolicyTerms,
                   order: Order, totals: RunningTotals, notes: list[str]) -> list[Offer]:
    """Approval depends on the caller and the running totals. An offer the caller may not
    grant alone now needs the lowest role whose limits and caps cover it; a scalable one also
    gets a variant capped to what the caller may still grant now. No offer is proposed that
    no role may grant: where the order's or the customer's caps leave every role too little,
    a scalable offer is held to the most some role may still grant, and any other is left
    out; under the abuse signal, an offer no role above the caller grants is left out too
    (each said in `notes`)."""
    currency = order.currency
    offers: list[Offer] = []
    kept: set[tuple[str, Decimal]] = set()
    variants: set[tuple[str, Decimal]] = set()
    for proposed in candidates:
        noted = len(notes)
        candidate, approver = _placed(proposed, caller, policy, order, totals, notes)
        if candidate is None:
            continue
        if (candidate.kind, candidate.value) in kept:
            del notes[noted:]  # held to what another offer of the kind already is: one
            continue
        kept.add((candidate.kind, candidate.value))
        number = len(offers) + 1
        money = Money(candidate.value, currency)
        if approver is ALONE:
            offers.append(Offer(number, candidate.kind, money, candidate.percent,
                                Approval.NOT_REQUIRED, None, candidate.rule, candidate.reason,
                                source=candidate.source))
            continue
        offers.append(Offer(number, candidate.kind, money, candidate.percent, Approval.REQUIRED,
                            approver, candidate.rule, candidate.reason,
                            source=candidate.source))
        variant = capped_variant(candidate, number, caller, policy, order, totals)
        if variant is not None and (variant.remedy, variant.value.amount) not in variants:
            # (another offer's variant of the same kind and value would look the same: the
            # one shown already stands for both, granting it leaves neither original open)
            variants.add((variant.remedy, variant.value.amount))
            offers.append(variant)
    return offers


ALONE = "alone"  # `_placed`'s word for an offer the caller may grant without approval


def _placed(candidate: Candidate, caller: RoleTerms, policy: PolicyTerms, order: Order,
            totals: RunningTotals, notes: list[str]) -> tuple[Candidate | None, str | None]:
    """The candidate as it is offered to the caller, and who grants it: ALONE (the caller,
    approval-free), the approver's role, or None (a kind fixed by law that no role may
    approve now); (None, None) when it is left out. Most candidates the caller or some
    approver may grant as they are; only the others are held to what some role may grant
    (`grantable_by_some_role`), then to what the roles that may approve past the abuse
    signal may (`_past_the_abuse_signal`), each step said in `notes`."""
    steps: tuple[Callable[[Candidate], Candidate | None], ...] = (
        lambda held: grantable_by_some_role(held, policy, order, totals, notes),
        lambda held: _past_the_abuse_signal(held, caller, policy, order, totals, notes))
    held: Candidate | None = candidate
    for step in (None, *steps):
        if step is not None:
            held = step(held)
            if held is None:
                return None, None
        asked = OfferToGrant(held.kind, held.value, order.currency)
        if may_grant_alone(caller, asked, totals, policy):
            return held, ALONE
        approver = approver_role(policy, caller, asked, totals)
        if approver is not None:
            return held, approver
    return held, None


def _held(candidate: Candidate, value: Decimal, order: Order) -> Candidate:
    """The candidate held to `value`, its percent (if it has one) restated."""
    percent = None if candidate.percent is None else percent_of(value, order)
    return replace(candidate, value=value, percent=percent)


def _past_the_abuse_signal(candidate: Candidate, caller: RoleTerms, policy: PolicyTerms,
                           order: Order, totals: RunningTotals,
                           notes: list[str]) -> Candidate | None:
    """The candidate no role may approve for this caller (some role may grant it: only the
    abuse signal narrows who may approve), as the roles that may approve past it (above the
    caller, or the top role) may grant it: held to the most they may, when it scales; kept
    whole when the law fixes it; else None (left out). The reason goes in `notes`."""
    currency, kind = order.currency, candidate.kind
    source = candidate.rule or "customer_ask"
    roles = approvers(policy, caller, totals)
    if policy.remedy_kinds[kind].statutory:
        everyone = most_any_role_may_grant(policy, kind, totals, currency)
        if everyone is not None and candidate.value <= everyone.amount:  # else said already
            notes.append(f"{source}: {kind} is due in full by law, but past the "
                         f"{abuse_words(policy, totals)} only {', '.join(roles)} may approve, "
                         f"and none may grant {money_text(candidate.value, currency)} now")
        return candidate
    most = most_any_role_may_grant(policy, kind, totals, currency, roles)
    value = None if most is None else round_down_money(min(most.amount, candidate.value),
                                                       currency)
    if most is not None and value and policy.remedy_kinds[kind].scales:
        notes.append(f"{source}: {kind} capped at {money_text(value, currency)}, the most "
                     f"{', '.join(roles)} may grant now ({most.binding}), who alone may "
                     f"approve past the {abuse_words(policy, totals)}")
        return _held(candidate, value, order)
    granting = [name for name in roles if kind in policy.roles[name].remedies]
    why = (f"{', '.join(roles)} grant{'s' if len(roles) == 1 else ''} no {kind}"
           if not granting else
           f"{', '.join(granting)} may not grant {money_text(candidate.value, currency)} now")
    notes.append(f"{source}: {kind} left out, {abuse_words(policy, totals)}: only "
                 f"{', '.join(roles)} may approve past it, and {why}")
    return None


def grantable_by_some_role(candidate: Candidate, policy: PolicyTerms, order: Order,
                           totals: RunningTotals, notes: list[str]) -> Candidate | None:
    """The candidate as some role may grant it now, whoever asks (the abuse signal, which
    depends on the caller, aside): itself; held to the most some role may still grant, when
    it scales; else None (left out). A kind fixed by law stays whole, needing a role whose
    limits cover it. Each change is said in `notes`."""
    currency = order.currency
    most = most_any_role_may_grant(policy, candidate.kind, totals, currency)
    if most is not None and candidate.value <= most.amount:
        return candidate
    source = candidate.rule or "customer_ask"
    if policy.remedy_kinds[candidate.kind].statutory:  # due by law: never less, never left out
        notes.append(f"{source}: {candidate.kind} is due in full by law, but no role's limits "
                     f"and caps cover {money_text(candidate.value, currency)} now: it needs a "
                     "role whose limits do")
        return candidate
    value = None if most is None else round_down_money(min(most.amount, candidate.value),
                                                       currency)
    if most is None or not value or not policy.remedy_kinds[candidate.kind].scales:
        why = "" if most is None else \
            f": the most is {money_text(most.amount, currency)}, {most.binding}"
        notes.append(f"{source}: {candidate.kind} left out, no role may grant "
                     f"{money_text(candidate.value, currency)} on this order and customer now{why}")
        return None
    notes.append(f"{source}: {candidate.kind} capped at {money_text(value, currency)}, the most "
                 f"any role may still grant now ({most.binding})")
    return _held(candidate, value, order)


def capped_variant(candidate: Candidate, number: int, caller: RoleTerms, policy: PolicyTerms,
                   order: Order, totals: RunningTotals) -> Offer | None:
    """The closest thing the caller may grant now: the same remedy capped to what the caller
    may still grant (its per-incident limit, or what is left of a budget or cap), or for a
    customer's ask of a kind the caller may not grant or that does not scale, the nearest
    scalable kind the caller may grant (store credit, then discount, then others). None when
    the caller may grant nothing now."""
    currency = order.currency
    left = room(caller, totals, currency, policy)
    if left is None:
        return None
    limit = round_down_money(min(left.amount, candidate.value), currency)
    if limit <= 0:
        return None
    kind = candidate.kind
    terms = policy.remedy_kinds[kind]
    if kind not in caller.remedies or not terms.scales or terms.statutory:
        # (what the law makes due is never offered lower, the caller's share of it either)
        if candidate.source != OfferSource.CUSTOMER_ASK:
            return None
        substitutes = [k for k in ("store_credit", "discount", *sorted(policy.remedy_kinds))
                       if k in caller.remedies and policy.remedy_kinds[k].scales]
        if not substitutes:
            return None
        kind = substitutes[0]
        reason = (f"Closest to the customer's ask ({candidate.kind}, "
                  f"{money_text(candidate.value, currency)}) that you may grant now, within "
                  f"{left.binding}; the ask itself needs approval")
    else:
        reason = f"Capped to {left.binding}; the full offer needs approval"
    percent = percent_of(limit, order) if kind == "discount" else None
    return Offer(number + 1, kind, Money(limit, currency), percent, Approval.NOT_REQUIRED, None,
                 candidate.rule, reason, variant=OfferVariant.CAPPED, capped_from=number,
                 source=candidate.source)
