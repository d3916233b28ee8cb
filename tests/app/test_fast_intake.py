"""The fast intake path agrees with marshmallow: whatever it accepts, IncidentSchema accepts
and builds the same Incident (issue 14: one declaration of the rules, agreement proven by
differential fuzzing). What it declines, marshmallow judges, so errors never come from it."""

import copy

import pytest
from hypothesis import event, given
from hypothesis import strategies as st
from marshmallow import INCLUDE, Schema, ValidationError, fields, pre_load

from schemas.fields import StrictString
from schemas.incident import IncidentSchema
from service.app import fast_intake
from service.app.fast_intake import Unsupported, compile_schema, read_incident
from service.app.intake import parse_incident
from service.domain.incident import IncidentInvalid
from tests.support.incidents import incident_bodies

SCHEMA = IncidentSchema()
README_BODY = {
    "incident_id": "INC-1001",
    "customer": {"id": "C-42", "tier": "gold", "lifetime_value": "5400.00", "prior_failures": 0},
    "order": {"id": "O-9", "value": "120.00", "currency": "EUR",
              "shipping_fee": "7.50", "upgrade_cost": "30.00"},
    "failure": {"category": "late_delivery", "severity": 2, "avoidable": False,
                "description": "parcel two days late"},
    "customer_ask": {"remedy": "refund", "amount": "120.00"},
}
FIELDS = {  # every key the schema declares, per object, and one it does not
    (): ["incident_id", "customer", "order", "failure", "customer_ask", "context", "extra"],
    ("customer",): ["id", "tier", "lifetime_value", "prior_failures", "extra"],
    ("order",): ["id", "value", "currency", "shipping_fee", "upgrade_cost", "extra"],
    ("failure",): ["category", "severity", "avoidable", "description", "occurred_on", "extra"],
    ("customer_ask",): ["remedy", "amount", "percent", "extra"],
    ("context",): ["customer_rejects_product", "ok_name", "Bad", "a\n", "_x", "x" * 70],
}
TRICKY = [
    "", " 1", "1 ", "+1", "-1", "-0", "1e3", "1E3", "1_0", "1.", ".5", "0.5", "1.234", "1.2345",
    "01", "000.000", "0", "1000000000", "1000000000.000", "1000000000.001", "999999999.999",
    "1000000001", "١٢", "²", "NaN", "Infinity", "0x10", "\x00", "a\x00", "\ud800", "x\udfff",
    "C-1\n", "a\n", "x" * 64, "x" * 65, "A" * 100, "A" * 101, "x" * 2001, "2026-01-01",
    "2026-01-01\n", "20260101", "2026-W01-1", "2026-1-1", "2026-02-30", "0001-01-01",
    "2026-01-01T00:00", "EUR", "JPY", "KWD", "BHD", "CLF", "eur", "XAU", "gold", "late_delivery",
    "refund", "store_credit", "150", "150.000", "150.001", "151", "C-1", "a:b@c/d.e_f-g", "-x",
    "ok_name", "Bad", "ü",
]
VALUES = st.one_of(
    st.sampled_from(TRICKY), st.none(), st.booleans(), st.integers(-2, 100_001), st.integers(),
    st.floats(), st.text(max_size=12), st.from_regex(r"[0-9]{0,10}(\.[0-9]{0,4})?", fullmatch=True),
    st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=3), st.integers(),
                                                         max_size=2),
    st.dates().map(str), st.dates(), st.builds(dict), st.builds(lambda: {"remedy": "refund"}),
)


@st.composite
def mutated_bodies(draw):
    """A valid body with one to four changes: a value replaced (by a wrong type, a bad money
    string, text a database refuses, another shape...), a key removed or a key added."""
    body = copy.deepcopy(draw(incident_bodies()))
    for _ in range(draw(st.integers(1, 4))):
        where = draw(st.sampled_from(sorted(FIELDS)))
        target = body
        for key in where:
            target = target.get(key) if isinstance(target, dict) else None
        if not isinstance(target, dict):
            if not isinstance(body, dict) or draw(st.booleans()):
                continue
            target = body[where[0]] = {}
        action = draw(st.sampled_from(["set", "set", "set", "delete"]))
        if action == "delete" and target:
            del target[draw(st.sampled_from(sorted(target)))]
        else:
            target[draw(st.sampled_from(FIELDS[where]))] = copy.deepcopy(draw(VALUES))  # a tree
    return body


def agree(body):
    """The fast path's and marshmallow's answers; fails if the fast path accepts more, or
    builds another Incident (== and repr, so 1.5 and 1.50 or 1 and True differ)."""
    fast = read_incident(body)
    try:
        slow = SCHEMA.load(copy.deepcopy(body))
    except ValidationError:
        slow = None
    if fast is not None:
        assert slow is not None, f"fast path accepted what marshmallow refuses: {body!r}"
        assert fast == slow and repr(fast) == repr(slow), body
    return fast, slow


def agree_in_a_property(body):
    fast, slow = agree(body)
    event(f"fast {'accepts' if fast else 'declines'}, marshmallow "
          f"{'accepts' if slow else 'refuses'}")
    return fast, slow


def test_the_shipped_schema_compiles():
    assert fast_intake.READER is not None  # else every body silently takes the slow path


def test_the_readme_body_takes_the_fast_path():
    fast, slow = agree(README_BODY)
    assert fast is not None and fast == slow


@given(incident_bodies())
def test_every_valid_body_takes_the_fast_path_and_builds_the_same_incident(body):
    fast, slow = agree_in_a_property(body)
    assert fast is not None and slow is not None


@given(mutated_bodies())
def test_whatever_the_fast_path_accepts_marshmallow_accepts_alike(body):
    agree_in_a_property(body)


@given(incident_bodies(), st.sampled_from(["JPY", "KWD", "BHD", "CHF"]),
       st.sampled_from(["0", "7", "7.5", "7.50", "7.500", "150", "150.0", "0.001"]),
       st.sampled_from([None, "2026-01-31", "2024-02-29"]), st.text(max_size=30))
def test_rarer_valid_fields_agree(body, currency, amount, occurred_on, description):
    """Currencies with 0 and 3 places, percent asks, dates and free text (not in
    incident_bodies) are accepted alike or declined."""
    body = copy.deepcopy(body)
    body["order"]["currency"] = currency
    body["customer_ask"] = {"remedy": "discount", "percent": amount}
    body["failure"]["description"] = description
    if occurred_on:
        body["failure"]["occurred_on"] = occurred_on
    agree_in_a_property(body)


def _with(path, value):
    body = copy.deepcopy(README_BODY)
    *parents, name = path.split(".")
    target = body
    for parent in parents:
        target = target[parent]
    if value is _with:
        del target[name]
    else:
        target[name] = value
    return body


@pytest.mark.parametrize("path, value", [
    ("order.value", "1e3"), ("order.value", " 1"), ("order.value", "+1"),
    ("order.value", "1_0"), ("order.value", "12."), ("order.value", ".5"),
    ("order.value", "1.234"), ("order.value", 12.5), ("order.value", 12),
    ("order.value", "1000000000.01"), ("order.value", "-1"), ("order.value", "١٢"),
    ("order.currency", "eur"), ("order.currency", "XAU"), ("order.id", "O\x00"),
    ("customer.id", "C\ud800"), ("failure.description", "late\x00"),
    ("failure.severity", True), ("failure.severity", 2.0), ("failure.severity", "2"),
    ("failure.severity", 6), ("failure.avoidable", 0), ("failure.avoidable", "false"),
    ("failure.occurred_on", "2026-02-30"),
    ("failure.occurred_on", 20260101), ("customer.tier", None), ("customer.prior_failures", -1),
    ("incident_id", _with), ("order.value", _with), ("failure.category", _with),
    ("customer", ["C-42"]), ("order", "O-9"), ("customer_ask", None),
    ("customer_ask.percent", "20"), ("context", {"Bad": True}), ("context", {"ok": None}),
    ("context", []), ("extra", 1), ("order.extra", 1), ("incident_id", "INC 1"),
])
def test_the_fast_path_declines_what_marshmallow_refuses(path, value):
    body = _with(path, value)
    assert read_incident(body) is None
    with pytest.raises(ValidationError):
        SCHEMA.load(body)


class _Named(Schema):
    name = StrictString(required=True)


@pytest.mark.parametrize("schema", [
    type("Keyed", (Schema,), {"name": StrictString(data_key="Name")})(),
    type("Defaulted", (Schema,), {"name": StrictString(load_default="x")})(),
    type("Floating", (Schema,), {"price": fields.Float()})(),
    type("Loose", (Schema,), {"name": fields.Nested(_Named, unknown=INCLUDE)})(),
    type("Hooked", (Schema,), {"name": StrictString(),
                               "strip": pre_load(lambda self, data, **kwargs: data)})(),
    _Named(unknown=INCLUDE),
])
def test_a_schema_it_cannot_reproduce_compiles_to_no_fast_path(schema):
    with pytest.raises(Unsupported):
        compile_schema(schema)


def test_what_the_fast_path_declines_marshmallow_still_judges(shipped):
    """A basic-format date ("20260101", which date.fromisoformat reads) is no YYYY-MM-DD: the
    fast path declines it, and marshmallow refuses it naming the field."""
    body = _with("failure.occurred_on", "20260101")
    assert read_incident(body) is None
    with pytest.raises(IncidentInvalid) as caught:
        parse_incident(body, shipped.policy)
    assert list(caught.value.errors) == ["failure.occurred_on"]


def test_parse_incident_errors_still_come_from_marshmallow(shipped):
    with pytest.raises(IncidentInvalid) as caught:
        parse_incident(_with("order.value", "1e3"), shipped.policy)
    assert list(caught.value.errors) == ["order.value"]
