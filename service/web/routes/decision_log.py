"""The audit export: every stored decision of a period with its grants and outcomes."""

from __future__ import annotations

from datetime import datetime

from flask import current_app
from flask_smorest import Blueprint
from marshmallow import RAISE

from schemas.decision_log import DecisionLogQuerySchema, DecisionLogSchema
from service.app.decision_log import decision_log
from service.web.auth import owners_only
from service.web.openapi import problems
from service.web.presenters.decision_log import decision_log_json
from service.web.resources import store

blueprint = Blueprint("decision_log", __name__, url_prefix="/v1",
                      description="The audit export: stored decisions of a period")


@blueprint.route("/decisions", methods=["GET"])
@owners_only
@blueprint.arguments(DecisionLogQuerySchema, location="query", as_kwargs=True,
                     unknown=RAISE)
@blueprint.response(200, DecisionLogSchema)
@problems(blueprint, 401, 403, 422)
def list_decisions(since: datetime, until: datetime | None, limit: int, cursor: str | None):
    """The decisions made in a period, oldest first, with their grants and outcomes.

    Audit data, for roles marked `policy_owner` or `admin`. Each item is the stored decision
    as it was decided (its offers with their current `state`), who asked, the incident as
    sent, and its grants and outcomes, oldest first. A page at a time: follow `next_cursor`
    until it is null (`amends export decisions` writes the same as NDJSON or CSV)."""
    page = decision_log(store(), since, until, limit, cursor)
    return current_app.json.response(decision_log_json(page))
