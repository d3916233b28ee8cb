"""Turn a request body into an Incident for a given policy, or say every field at fault."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from typing import NamedTuple

from marshmallow import ValidationError

from schemas.errors import flatten_errors
from schemas.incident import NOT_ISO_CURRENCY, IncidentSchema
from service.app.fast_intake import read_incident
from service.domain.fields import ValueTypeError
from service.domain.incident import Incident, IncidentInvalid
from service.policy.model import Policy
from service.store import clock

_SCHEMA = IncidentSchema()
ASKS_NEEDING_SIZE = ("discount", "store_credit")  # an ask for these says how much


def parse_incident(payload: object, policy: Policy) -> Incident:
    if not isinstance(payload, dict):
        raise IncidentInvalid({"_body": ["The body must be a JSON object."]})
    incident = read_incident(payload)  # the well-formed body, cheaply; None: ask marshmallow
    if incident is not None:
        return check_vocabulary(incident, policy)
    try:
        incident = _SCHEMA.load(payload)
    except ValidationError as error:
        errors = flatten_errors(error.messages)
        if NOT_ISO_CURRENCY in errors.get("order.currency", ()):  # say what the policy takes
            errors["order.currency"].append(_supported_currencies(policy))
        valid = error.valid_data if isinstance(error.valid_data, dict) else {}
        found, _ = _vocabulary(_words(valid, payload), policy)  # the fields it took, too
        for path, messages in found.items():
            if path not in errors and not any(path.startswith(f"{at}.") for at in errors):
                errors[path] = messages
        raise IncidentInvalid(errors) from None
    return check_vocabulary(incident, policy)


def _supported_currencies(policy: Policy) -> str:
    return f"Policy {policy.name} supports {', '.join(policy.currencies)}."


def check_vocabulary(incident: Incident, policy: Policy) -> Incident:
    """Check the words and facts the policy defines; type the declared context facts."""
    ask = incident.customer_ask
    errors, context = _vocabulary(_Words(
        incident.order.currency, incident.failure.category, incident.customer.tier,
        None if ask is None else (ask.remedy, ask.amount is not None or ask.percent is not None),
        incident.failure.occurred_on, incident.context), policy)
    if errors:
        raise IncidentInvalid(errors)
    return replace(incident, context=context)


class _Words(NamedTuple):
    """What the policy's vocabulary judges in an incident; None where it is not known."""

    currency: str | None
    category: str | None
    tier: str | None
    ask: tuple[str | None, bool] | None  # the remedy asked for, and whether it says how much
    occurred_on: date | None
    context: dict


def _words(valid: dict, sent: dict) -> _Words:
    """The words of the fields a body's schema took, when it refused others (`sent`: the
    body as sent, so that an ask whose amount or percent the schema refused still says how
    much; the schema's own error says what is wrong with it)."""
    def part(name: str, of: dict = valid) -> dict:
        found = of.get(name)
        return found if isinstance(found, dict) else {}
    order, failure, customer = part("order"), part("failure"), part("customer")
    ask = part("customer_ask") if "customer_ask" in valid else None
    asked = part("customer_ask", sent)
    return _Words(order.get("currency"), failure.get("category"), customer.get("tier"),
                  None if ask is None else (ask.get("remedy"),
                                            "amount" in asked or "percent" in asked),
                  failure.get("occurred_on"), part("context"))


def _vocabulary(words: _Words, policy: Policy) -> tuple[dict[str, list[str]], dict]:
    """Every field at fault by the policy's words, and the declared context facts typed."""
    errors: dict[str, list[str]] = {}

    def fail(path: str, message: str) -> None:
        errors.setdefault(path, []).append(message)

    if words.currency is not None and words.currency not in policy.currencies:
        fail("order.currency", _supported_currencies(policy))
    if words.category is not None and words.category not in policy.failure_categories:
        fail("failure.category", "Unknown category; use one of "
                                 f"{', '.join(policy.failure_categories)}.")
    if words.tier is not None and words.tier not in policy.customer_tiers:
        fail("customer.tier", f"Unknown tier; use one of {', '.join(policy.customer_tiers)}.")
    if words.ask is not None:
        remedy, sized = words.ask
        if remedy is None:
            pass  # refused by the schema
        elif remedy not in policy.remedy_kinds:
            fail("customer_ask.remedy", "Unknown remedy; use one of "
                                        f"{', '.join(sorted(policy.remedy_kinds))}.")
        elif not sized and remedy in ASKS_NEEDING_SIZE:
            fail("customer_ask.amount", f"Say how much {remedy} the customer asks for.")
    occurred_on = words.occurred_on
    if policy.effective_from and occurred_on and occurred_on < policy.effective_from:
        fail("failure.occurred_on", f"Policy {policy.name} applies to failures from "
                                    f"{policy.effective_from.isoformat()}.")
    latest = clock.now().date() + timedelta(days=1)  # a day's slack for time zones
    if occurred_on and occurred_on > latest:
        fail("failure.occurred_on", "A failure cannot have occurred in the future (the latest "
                                    f"date accepted now is {latest.isoformat()}).")
    context = {}
    for name, value in words.context.items():
        declared = policy.context.get(name)
        if declared is None:
            fail(f"context.{name}", "Not a context fact this policy declares; it declares: "
                                    f"{', '.join(sorted(policy.context)) or 'none'}.")
            continue
        spec = policy.fields[f"context.{name}"]
        try:
            context[name] = spec.parse(value)
        except ValueTypeError as error:
            fail(f"context.{name}", f"{spec.type.name.capitalize()} field: {error}.")
    for name, declared in policy.context.items():
        if declared.required and name not in words.context:
            fail(f"context.{name}", "Missing data for required context fact.")
    return errors, context

