"""Turn a request body into an Incident for a given policy, or say every field at fault."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

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
        raise IncidentInvalid(errors) from None
    return check_vocabulary(incident, policy)


def _supported_currencies(policy: Policy) -> str:
    return f"Policy {policy.name} supports {', '.join(policy.currencies)}."


def check_vocabulary(incident: Incident, policy: Policy) -> Incident:
    """Check the words and facts the policy defines; type the declared context facts."""
    errors: dict[str, list[str]] = {}

    def fail(path: str, message: str) -> None:
        errors.setdefault(path, []).append(message)

    if incident.order.currency not in policy.currencies:
        fail("order.currency", _supported_currencies(policy))
    if incident.failure.category not in policy.failure_categories:
        fail("failure.category", "Unknown category; use one of "
                                 f"{', '.join(policy.failure_categories)}.")
    tier = incident.customer.tier
    if tier is not None and tier not in policy.customer_tiers:
        fail("customer.tier", f"Unknown tier; use one of {', '.join(policy.customer_tiers)}.")
    ask = incident.customer_ask
    if ask is not None:
        if ask.remedy not in policy.remedy_kinds:
            fail("customer_ask.remedy", "Unknown remedy; use one of "
                                        f"{', '.join(sorted(policy.remedy_kinds))}.")
        elif ask.amount is None and ask.percent is None and ask.remedy in ASKS_NEEDING_SIZE:
            fail("customer_ask.amount", f"Say how much {ask.remedy} the customer asks for.")
    if (policy.effective_from and incident.failure.occurred_on
            and incident.failure.occurred_on < policy.effective_from):
        fail("failure.occurred_on", f"Policy {policy.name} applies to failures from "
                                    f"{policy.effective_from.isoformat()}.")
    latest = clock.now().date() + timedelta(days=1)  # a day's slack for time zones
    if incident.failure.occurred_on and incident.failure.occurred_on > latest:
        fail("failure.occurred_on", "A failure cannot have occurred in the future (the latest "
                                    f"date accepted now is {latest.isoformat()}).")
    context = {}
    for name, value in incident.context.items():
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
        if declared.required and name not in incident.context:
            fail(f"context.{name}", "Missing data for required context fact.")
    if errors:
        raise IncidentInvalid(errors)
    return replace(incident, context=context)

