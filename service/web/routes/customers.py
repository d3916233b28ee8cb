"""Customers: what Amends decided and granted for one, newest first."""

from __future__ import annotations

from flask import current_app
from flask_smorest import Blueprint
from marshmallow import RAISE

from schemas.decision import CustomerHistorySchema, HistoryQuerySchema
from service.app.customer_history import customer_history
from service.web.auth import authenticate
from service.web.openapi import problems
from service.web.presenters.history import customer_history_json
from service.web.resources import store

blueprint = Blueprint("customers", __name__, url_prefix="/v1",
                      description="A customer's incidents and grants")


@blueprint.route("/customers/<any_id:customer_id>/history", methods=["GET"])  # ids hold "/"
@blueprint.arguments(HistoryQuerySchema, location="query", as_kwargs=True,
                     unknown=RAISE)
@blueprint.response(200, CustomerHistorySchema)
@problems(blueprint, 401, 403, 422)
def show_customer_history(customer_id: str, limit: int, cursor: str | None):
    """The customer's incidents, decisions, offers and grants, newest first, a page at a time
    (`limit` of each); follow `next_cursor` until it is null."""
    authenticate()
    history = customer_history(store(), customer_id, limit, cursor)
    return current_app.json.response(customer_history_json(history))
