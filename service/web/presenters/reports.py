"""The reports (`schemas.reports`): rates as decimal strings beside their counts, money per
currency as strings."""

from __future__ import annotations

from decimal import Decimal

from service.domain.reports import (
    FailureCount,
    FailureReport,
    Kind,
    OutcomeReport,
    OutcomeTally,
    Rate,
    Recurring,
)
from service.web.presenters import moment_json


def _decimal(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")


def rate_json(rate: Rate) -> dict:
    return {"rate": _decimal(rate.value), "count": rate.count, "n": rate.n}


def figures_json(tally: OutcomeTally) -> dict:
    return {"decisions": tally.decisions, "outcomes": tally.outcomes,
            "accepted": rate_json(tally.accepted_rate),
            "satisfied": rate_json(tally.satisfied_rate),
            "stayed": rate_json(tally.stayed_rate),
            "recovered": rate_json(tally.recovered_rate),
            "granted": [money.to_json() for money in tally.granted]}


def outcome_report_json(report: OutcomeReport) -> dict:
    return {
        "by": report.by.value,
        "since": moment_json(report.since), "until": moment_json(report.until),
        "total": figures_json(report.total),
        "groups": [{"key": group.key, **figures_json(group.tally)} for group in report.groups],
        "calibration": {
            "outlooks": [{"outlook": outlook.value, "recovered": rate_json(rate)}
                         for outlook, rate in report.calibration.recovered],
            "likely_minus_unlikely": _decimal(report.calibration.likely_minus_unlikely)},
    }


def _kind_json(kind: Kind, counted: FailureCount) -> dict:
    category, severity = kind
    return {"category": category, "severity": severity, "incidents": counted.incidents,
            "repeat": rate_json(counted.repeat_rate)}


def _recurring_json(recurring: Recurring) -> dict:
    return {"id": recurring.id, "incidents": recurring.incidents,
            "first_at": moment_json(recurring.first_at),
            "last_at": moment_json(recurring.last_at)}


def failure_report_json(report: FailureReport) -> dict:
    return {
        "since": moment_json(report.since), "until": moment_json(report.until),
        "bucket": report.bucket.value,
        "incidents": report.total.incidents, "repeat": rate_json(report.total.repeat_rate),
        "kinds": [_kind_json(kind, counted) for kind, counted in report.kinds],
        "periods": [{"start": moment_json(period.start), "end": moment_json(period.end),
                     "incidents": period.total.incidents,
                     "repeat": rate_json(period.total.repeat_rate),
                     "kinds": [_kind_json(kind, counted) for kind, counted in period.kinds]}
                    for period in report.periods],
        "top_customers": [_recurring_json(r) for r in report.top_customers],
        "top_orders": [_recurring_json(r) for r in report.top_orders],
    }
