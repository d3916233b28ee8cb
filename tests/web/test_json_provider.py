"""orjson on the hot path: the same JSON documents as Flask's default provider and the
stdlib wrote before it, whatever they hold; fewer bytes to write, never other content."""

import dataclasses
import enum
import json
import logging
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from flask import Flask
from flask.json.provider import DefaultJSONProvider
from prometheus_client import REGISTRY

from service.app import metrics
from service.store.database import json_text
from service.web.access_log import JsonLines
from service.web.json_provider import OrjsonProvider


class Colour(enum.StrEnum):
    RED = "red"


@dataclasses.dataclass
class Pair:
    left: Decimal
    right: str


ODD = {"money": Decimal("10.50"), "tiny": Decimal("1E-7"), "id": uuid.UUID(int=7),
       "day": date(2026, 3, 4), "moment": datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC),
       "colour": Colour.RED, "pair": Pair(Decimal("0.10"), "é"), "text": "café ☕ \u2028",
       "nested": [{"z": 1, "a": [True, None, 1.5, -3]}], "empty": {}}
# What orjson refuses, and the stdlib writes.
REFUSED = [{"big": 2 ** 70}, {"lone": "\ud800"}, {1: "int key"}, [{"deep": -(2 ** 64)}]]


@pytest.fixture
def providers():
    app = Flask("json-provider-test")
    default = DefaultJSONProvider(app)
    default.sort_keys = False
    app.json = OrjsonProvider(app)
    with app.app_context():
        yield app.json, default


def test_the_apps_answers_go_through_orjson(app):
    assert isinstance(app.json, OrjsonProvider)


@pytest.mark.parametrize("document", [ODD, [ODD, ODD], "plain", 12, None, []])
def test_a_response_holds_what_flasks_default_provider_answers(providers, document):
    ours, flasks = providers
    mine, theirs = ours.response(document), flasks.response(document)
    assert mine.mimetype == theirs.mimetype == "application/json"
    assert mine.data.endswith(b"\n") and b"\n" not in mine.data[:-1]
    assert json.loads(mine.data) == json.loads(theirs.data)
    assert ours.loads(ours.dumps(document)) == json.loads(flasks.dumps(document))


def test_money_stays_a_decimal_string_and_the_field_order_stays(providers):
    ours, _ = providers
    text = ours.response({"z": Decimal("120.00"), "a": Decimal("0.1")}).data
    assert text == b'{"z":"120.00","a":"0.1"}\n'


@pytest.mark.parametrize("document", REFUSED)
def test_what_orjson_refuses_is_answered_as_flask_would(providers, document):
    ours, flasks = providers
    assert ours.response(document).data == flasks.response(document).data
    assert ours.dumps(document) == flasks.dumps(document, separators=(",", ":"))


def test_stdlib_options_and_debug_mode_go_through_flasks_provider(providers):
    ours, flasks = providers
    assert ours.dumps(ODD, indent=2) == flasks.dumps(ODD, indent=2)
    ours._app.debug = True
    assert ours.response(ODD).data == flasks.response(ODD).data  # indented


def test_an_unknown_type_is_still_refused(providers):
    ours, _ = providers
    with pytest.raises(TypeError):
        ours.response({"what": object()})


@pytest.mark.parametrize("document", [
    {"request": {"incident_id": "I-1", "amount": "12.50", "note": "naïve ☕", "severity": 2,
                 "flag": False, "ratio": 0.25, "none": None}},
    *REFUSED[:2], [REFUSED[3]]])
def test_a_json_column_reads_back_as_written(document):
    text = json_text(document)
    assert isinstance(text, str) and ", " not in text
    assert json.loads(text) == document


def test_a_json_column_refuses_what_the_stdlib_refuses():
    with pytest.raises(TypeError):
        json_text({"money": Decimal("1.00")})  # documents hold money as strings


@pytest.mark.parametrize("fields", [
    {"status": 201, "duration_ms": 3.25, "principal": None, "path": "/v1/décisions"},
    {"moment": datetime(2026, 1, 2, 3, 4, 5), "pair": Pair(Decimal(1), "x"), "n": 2 ** 70,
     "lone": "\ud800", "problems": ["a", "b"]}])
def test_a_log_line_holds_what_the_stdlib_wrote(fields):
    record = logging.LogRecord("amends.access", logging.INFO, __file__, 1, "request %s",
                               ("é",), None)
    record.fields = fields
    line = JsonLines().format(record)
    assert "\n" not in line
    entry = json.loads(line)
    expected = json.loads(json.dumps(fields, default=str))
    assert {key: entry[key] for key in fields} == expected
    assert entry["message"] == "request é" and entry["logger"] == "amends.access"
    assert entry["time"] == JsonLines().formatTime(record, "%Y-%m-%dT%H:%M:%S")


def test_a_log_line_has_the_time_of_its_own_second():
    formatter = JsonLines()
    lines = []
    for created in (1_700_000_000.1, 1_700_000_000.9, 1_700_000_001.0, 1_700_000_000.5):
        record = logging.LogRecord("amends", logging.INFO, __file__, 1, "m", None, None)
        record.created = created
        lines.append(json.loads(formatter.format(record))["time"])
        assert lines[-1] == formatter.formatTime(record, "%Y-%m-%dT%H:%M:%S")
    assert lines[0] == lines[1] == lines[3] != lines[2]


def test_a_decision_counts_its_outlook_and_each_offer_by_approval():
    @dataclasses.dataclass
    class Made:  # what decision_made reads of a Decision
        outlook: str
        offers: tuple

    def count(name, labels):
        return REGISTRY.get_sample_value(name, labels) or 0.0

    offer = type("Offer", (), {})
    auto, needs = offer(), offer()
    auto.approval, needs.approval = "auto", "needs_approval"
    before = (count("amends_decisions_total", {"outlook": "test-outlook"}),
              count("amends_offers_total", {"approval": "auto"}),
              count("amends_offers_total", {"approval": "needs_approval"}))
    for _ in range(2):
        metrics.decision_made(Made("test-outlook", (auto, needs, auto)), 0.002)
    after = (count("amends_decisions_total", {"outlook": "test-outlook"}),
             count("amends_offers_total", {"approval": "auto"}),
             count("amends_offers_total", {"approval": "needs_approval"}))
    assert [b - a for a, b in zip(before, after, strict=True)] == [2, 4, 2]
