"""Prometheus metrics; safe under gunicorn's several worker processes.

Under `amends serve`, PROMETHEUS_MULTIPROC_DIR is set before any worker starts, so every
process writes its own files and /metrics sums them.
"""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

from service.domain.decision import Decision
from service.domain.money import Money

DECISION_SECONDS = Histogram(
    "amends_decision_seconds", "Time to decide and record an incident (POST /v1/decisions)",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5))
DECISIONS = Counter("amends_decisions_total", "Decisions made, by recovery outlook",
                    ["outlook"])
OFFERS = Counter("amends_offers_total", "Offers proposed, by approval state", ["approval"])
GRANTS = Counter("amends_grants_total", "Grants made, by remedy and role", ["remedy", "role"])
GRANTED_VALUE = Counter("amends_granted_value_total",
                        "Value granted (in currency units), by currency and role",
                        ["currency", "role"])
POLICY = Gauge("amends_policy_info", "The active policy version (1 while active)",
               ["name", "version"], multiprocess_mode="livemostrecent")
RELOADS = Counter("amends_policy_reloads_total", "Policy reloads, by result", ["result"])
POLICY_FOLLOW_FAILURES = Counter(
    "amends_policy_follow_failures_total",
    "Times a worker could not load the active policy version (it keeps serving the one it had "
    "and tries again on the next poll)")


def render() -> tuple[bytes, str]:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    return generate_latest(registry), CONTENT_TYPE_LATEST


# The labelled children of the decision counters, by label value: `labels()` checks and
# locks on every call, and the hot path needs only a dict lookup (what `labels()` returns is
# this same child every time; each survives gunicorn's fork, its value following the pid).
_BY_OUTLOOK: dict[str, Counter] = {}
_BY_APPROVAL: dict[str, Counter] = {}


def _child(metric: Counter, children: dict[str, Counter], value: str) -> Counter:
    child = children.get(value)
    if child is None:
        child = children[value] = metric.labels(value)
    return child


def decision_made(decision: Decision, seconds: float) -> None:
    DECISION_SECONDS.observe(seconds)
    _child(DECISIONS, _BY_OUTLOOK, decision.outlook).inc()
    proposed: dict[str, int] = {}
    for offer in decision.offers:
        proposed[offer.approval] = proposed.get(offer.approval, 0) + 1
    for approval, count in proposed.items():
        _child(OFFERS, _BY_APPROVAL, approval).inc(count)


def granted(remedy: str, role: str, value: Money) -> None:
    GRANTS.labels(remedy, role).inc()
    GRANTED_VALUE.labels(value.currency, role).inc(
        float(value.amount))  # a metric only: money itself is never a float


def policy_active(name: str, version: str, previous: tuple[str, str] | None = None) -> None:
    """`name` `version` serves now, in place of `previous` (its name and version)."""
    if previous:
        POLICY.labels(*previous).set(0)
    POLICY.labels(name, version).set(1)
