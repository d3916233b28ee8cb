"""The OpenAPI document follows the policy's vocabulary (pure: a spec and a policy in)."""

import re
from dataclasses import replace

from service.policy.model import ContextFact
from service.web.policy_openapi import with_policy_vocabulary

SPEC = {"info": {"title": "Amends"}, "components": {"schemas": {
    "Incident": {"properties": {"context": {"type": "object"}},
                 "required": ["customer", "failure", "incident_id", "order"]},
    "Order": {"properties": {"currency": {"type": "string", "maxLength": 3}, "value": {},
                             "shipping_fee": {}, "upgrade_cost": {}}},
    "Failure": {"properties": {"category": {"type": "string"}, "occurred_on": {}}},
    "Customer": {"properties": {"tier": {"type": "string"}}},
    "CustomerAsk": {"properties": {"remedy": {"type": "string"}, "amount": {},
                                   "percent": {}}},
}}}


def test_currencies_without_minor_units_allow_no_decimals(shipped):
    policy = replace(shipped.policy, currencies=("JPY",))
    schemas = with_policy_vocabulary(SPEC, policy)["components"]["schemas"]
    order = schemas["Order"]["properties"]
    assert order["currency"] == {"type": "string", "enum": ["JPY"]}
    assert re.fullmatch(order["value"]["pattern"], "1200")
    assert not re.fullmatch(order["value"]["pattern"], "1200.5")
    assert SPEC["components"]["schemas"]["Order"]["properties"]["value"] == {}  # a copy


def test_declared_context_facts_are_typed_and_required_ones_required(shipped):
    policy = replace(shipped.policy, context={
        "cabin": ContextFact("cabin", "enum", True, ("economy", "business")),
        "delay_minutes": ContextFact("delay_minutes", "integer", False, (), "minutes",
                                     "Arrival delay"),
        "refund_rate": ContextFact("refund_rate", "decimal", False)})
    schemas = with_policy_vocabulary(SPEC, policy)["components"]["schemas"]
    context = schemas["Incident"]["properties"]["context"]
    assert context["required"] == ["cabin"] and "context" in schemas["Incident"]["required"]
    assert context["properties"]["cabin"]["enum"] == ["economy", "business"]
    assert context["properties"]["delay_minutes"]["description"] == "Arrival delay (minutes)"
    assert re.fullmatch(context["properties"]["refund_rate"]["pattern"], "-12.5")


def test_percent_pattern_stops_at_150(shipped):
    pattern = with_policy_vocabulary(SPEC, shipped.policy)["components"]["schemas"][
        "CustomerAsk"]["properties"]["percent"]["pattern"]
    for accepted in ("0", "15", "99.5", "149.999", "150", "150.0"):
        assert re.fullmatch(pattern, accepted), accepted
    for refused in ("150.1", "151", "200", "-1", "1000"):
        assert not re.fullmatch(pattern, refused), refused

