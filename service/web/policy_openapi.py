"""The OpenAPI document as the active policy reads requests.

The incident schema is generic; which currencies, categories, tiers, remedy kinds and
context facts a request may name is the policy's vocabulary. `/openapi.json` states it for
the version serving now (named in `info.x-policy`), so generated clients and contract tests
send what this policy accepts.
"""

from __future__ import annotations

import copy

from service.app.intake import ASKS_NEEDING_SIZE
from service.domain.money import MINOR_UNITS
from service.policy.model import Policy


def with_policy_vocabulary(spec: dict, policy: Policy) -> dict:
    spec = copy.deepcopy(spec)
    spec["info"]["x-policy"] = {"name": policy.name, "version": policy.version}
    schemas = spec["components"]["schemas"]
    _enum(schemas, "Order", "currency", policy.currencies)
    _enum(schemas, "Failure", "category", policy.failure_categories)
    _enum(schemas, "Customer", "tier", policy.customer_tiers)
    _enum(schemas, "CustomerAsk", "remedy", sorted(policy.remedy_kinds))
    context = {"type": "object", "additionalProperties": False,
               "description": "Facts this policy declares for its domain",
               "properties": {name: _context_fact(fact) for name, fact in policy.context.items()}}
    required = sorted(name for name, fact in policy.context.items() if fact.required)
    if required:
        context["required"] = required
        schemas["Incident"]["required"] = sorted({*schemas["Incident"]["required"], "context"})
    schemas["Incident"]["properties"]["context"] = context
    places = max(MINOR_UNITS[currency] for currency in policy.currencies)
    for schema, field in _ORDER_MONEY:
        schemas[schema]["properties"][field]["pattern"] = _amount_pattern(places)
    ask = schemas["CustomerAsk"]
    ask["properties"]["percent"]["pattern"] = _PERCENT_PATTERN
    ask["not"] = {"required": ["amount", "percent"]}  # one or the other
    ask["anyOf"] = [{"properties": {"remedy": {"not": {"enum": list(ASKS_NEEDING_SIZE)}}}},
                    {"required": ["amount"]}, {"required": ["percent"]}]
    if policy.effective_from:
        occurred = schemas["Failure"]["properties"]["occurred_on"]
        occurred["description"] = (f"On or after {policy.effective_from.isoformat()}, when "
                                   f"policy {policy.name} took effect")
    return spec


_ORDER_MONEY = (("Order", "value"), ("Order", "shipping_fee"), ("Order", "upgrade_cost"),
                ("CustomerAsk", "amount"))
# As read (schemas.fields.MoneyAmount, leading zeros allowed), then held to 0..150.
_PERCENT_PATTERN = r"^0*(150(\.0{1,3})?|(1[0-4][0-9]|[0-9]{1,2})(\.[0-9]{1,3})?)$"


def _amount_pattern(places: int) -> str:
    """Money in the order's currency as schemas.fields.MONEY_PATTERN reads it (leading zeros
    allowed, at most 1000000000), with at most its minor unit's places (the most any currency
    of the policy has)."""
    if not places:
        return r"^0*([0-9]{1,9}|1000000000)$"
    return rf"^0*([0-9]{{1,9}}(\.[0-9]{{1,{places}}})?|1000000000(\.0{{1,{places}}})?)$"


def _enum(schemas: dict, schema: str, field: str, values) -> None:
    prop = schemas[schema]["properties"][field]
    for loose in ("minLength", "maxLength", "pattern"):
        prop.pop(loose, None)
    prop["enum"] = list(values)


def _context_fact(fact) -> dict:
    prop = fact.field().openapi()
    text = fact.description + (f" ({fact.unit})" if fact.unit else "")
    if text:
        prop["description"] = text
    return prop
