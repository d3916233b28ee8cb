"""Generate a large, valid policy (seeded) for load tests and benchmarks.

Rules look like a real retailer's: conditions on category, severity, order value, tier and a
context fact, with remedies sized by percent. Only what a policy owner could write.
"""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import yaml

from service.config import shipped_policy

CATEGORIES = ["late_delivery", "lost_parcel", "wrong_item", "damaged_item", "faulty_product",
              "billing_error", "service_outage", "cancelled_service", "staff_conduct"]
TIERS = ["standard", "silver", "gold", "platinum"]
KINDS = ["discount", "store_credit", "waived_shipping", "free_upgrade", "refund"]


def generated_rule(number: int, rng: random.Random, selective: bool = False) -> dict:
    """One rule. `selective`: every rule also names a tier and an exact severity (and so
    does its `any` alternative), so a decision fires a few dozen of 10,000 rules rather than
    some 390: the shape of a big real policy of many narrow rules."""
    when: dict = {"failure.category": rng.choice(CATEGORIES)}
    if rng.random() < 0.5:
        when["customer.tier"] = rng.choice(TIERS)
    if rng.random() < 0.7:
        op = rng.choice(["at_least", "at_most", "equals"])
        when["failure.severity"] = {op: rng.randint(1, 5)}
    if rng.random() < 0.5:
        when["order.value"] = {rng.choice(["at_least", "less_than"]): rng.randrange(0, 1000, 25)}
    if rng.random() < 0.2:
        when["context.days_since_delivery"] = {"at_least": rng.randrange(0, 60, 5)}
    if rng.random() < 0.2:
        when["failure.avoidable"] = rng.random() < 0.5
    if selective:
        when["customer.tier"] = rng.choice(TIERS)
        when["failure.severity"] = {"equals": rng.randint(1, 5)}
    if rng.random() < 0.1:
        other: dict = {"customer.prior_failures": {"at_least": rng.randint(2, 6)}}
        if selective:  # the alternative as narrow as the rest
            other = {"failure.category": when["failure.category"],
                     "customer.tier": when["customer.tier"], **other}
        when = {"any": [when, other]}
    kind = rng.choice(KINDS)
    if kind == "waived_shipping":
        remedy = {"kind": kind, "value": "shipping_fee"}
    elif kind == "free_upgrade":
        remedy = {"kind": kind, "value": "upgrade_cost"}
    else:
        remedy = {"kind": kind, "percent": rng.choice([5, 10, 15, 20, 30, 45, 60])}
    factor = rng.choice(["first_failure", "minor_failure", "severe_failure", "avoidable"])
    return {
        "id": f"gen-{number:05d}",
        "description": f"Generated rule {number}",
        "priority": rng.randint(1, 1000),
        "when": when,
        "then": {"factors": {factor: rng.choice(["helps", "hurts"])},
                 "remedies": [remedy]},
    }


def write_generated_policy(directory: Path, rule_count: int, seed: int = 7,
                           selective: bool = False) -> Path:
    """A copy of the shipped policy's settings and roles with `rule_count` generated rules
    (narrow ones if `selective`: see generated_rule)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    for name in ("policy.yaml", "roles.yaml"):
        shutil.copy(shipped_policy() / name, directory / name)
    settings = yaml.safe_load((directory / "policy.yaml").read_text())
    settings["name"] = f"generated-{rule_count}{'-selective' if selective else ''}"
    (directory / "policy.yaml").write_text(yaml.safe_dump(settings, sort_keys=False))
    rng = random.Random(seed)
    rules = [generated_rule(n, rng, selective) for n in range(rule_count)]
    per_file = 500
    for start in range(0, rule_count, per_file):
        chunk = {"rules": rules[start:start + per_file]}
        (directory / f"rules-{start // per_file:03d}.yaml").write_text(
            yaml.safe_dump(chunk, sort_keys=False))
    return directory


def random_incident(rng: random.Random, number: int = 0) -> dict:
    """A valid request body for the shipped vocabulary, varied across all fields."""
    value = rng.randrange(5, 1500)
    body = {
        "incident_id": f"GEN-{number}",
        "customer": {"id": f"C-{rng.randrange(1000)}", "tier": rng.choice(TIERS),
                     "lifetime_value": f"{rng.randrange(0, 9000)}.00",
                     "prior_failures": rng.choice([0, 0, 0, 1, 2, 4])},
        "order": {"id": f"O-{number}", "value": f"{value}.{rng.randrange(100):02d}",
                  "currency": rng.choice(["EUR", "USD", "GBP"])},
        "failure": {"category": rng.choice(CATEGORIES), "severity": rng.randint(1, 5),
                    "avoidable": rng.random() < 0.5},
    }
    if rng.random() < 0.7:
        body["order"]["shipping_fee"] = f"{rng.randrange(0, 20)}.{rng.randrange(100):02d}"
    if rng.random() < 0.5:
        body["order"]["upgrade_cost"] = f"{rng.randrange(1, 200)}.00"
    if rng.random() < 0.5:
        body["context"] = {"days_since_delivery": rng.randrange(0, 90)}
    if rng.random() < 0.3:
        body["customer_ask"] = {"remedy": rng.choice(["refund", "discount", "store_credit"]),
                                "amount": f"{rng.randrange(1, 3000)}.00"}
    return body
