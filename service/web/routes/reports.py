"""Reports for the policy owner: what became of decisions, and where failures recur."""

from __future__ import annotations

from datetime import datetime

from flask import current_app
from flask_smorest import Blueprint
from marshmallow import RAISE

from schemas.reports import (
    FailureReportQuerySchema,
    FailureReportSchema,
    OutcomeReportQuerySchema,
    OutcomeReportSchema,
)
from service.app.reports import failure_report_of, outcome_report_of
from service.domain.reports import Bucket, Grouping
from service.web.auth import owners_only
from service.web.deadline import before_worker_timeout
from service.web.openapi import problems
from service.web.presenters.reports import failure_report_json, outcome_report_json
from service.web.resources import store

blueprint = Blueprint("reports", __name__, url_prefix="/v1",
                      description="The policy owner's workbench: reports")


@blueprint.route("/reports/outcomes", methods=["GET"])
@owners_only
@blueprint.arguments(OutcomeReportQuerySchema, location="query", as_kwargs=True,
                     unknown=RAISE)
@blueprint.response(200, OutcomeReportSchema)
@problems(blueprint, 401, 403, 422)
def show_outcome_report(by: str, since: datetime | None, until: datetime | None):
    """The decisions of a period (`since` ≤ decided at < `until`) grouped `by` rule, remedy
    kind granted, policy version or outlook: how many, how many have an outcome (the latest
    counts), the accepted, satisfied, stayed and recovered rates with their counts, and the
    money granted per currency; and how well the outlook predicted recovery (roles marked
    `policy_owner` or `admin`)."""
    report = outcome_report_of(store(), Grouping(by), since, until, before_worker_timeout())
    return current_app.json.response(outcome_report_json(report))


@blueprint.route("/reports/failures", methods=["GET"])
@owners_only
@blueprint.arguments(FailureReportQuerySchema, location="query", as_kwargs=True,
                     unknown=RAISE)
@blueprint.response(200, FailureReportSchema)
@problems(blueprint, 401, 403, 422)
def show_failure_report(since: datetime | None, until: datetime | None, bucket: str,
                        top: int):
    """The incidents of a period per week or month, category and severity, the share that
    were repeat failures, and the `top` customers and orders with the most (roles marked
    `policy_owner` or `admin`)."""
    report = failure_report_of(store(), since, until, Bucket(bucket), top, before_worker_timeout())
    return current_app.json.response(failure_report_json(report))
