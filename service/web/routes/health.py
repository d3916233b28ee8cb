"""Liveness, readiness and metrics: no key needed."""

from __future__ import annotations

import math

from flask import current_app
from flask_smorest import Blueprint

from schemas.decision import HealthSchema, ReadySchema
from schemas.problem import ProblemSchema
from service.app import metrics
from service.web.errors import NotReady
from service.web.openapi import PROBLEM_JSON, public
from service.web.resources import active_policy, holder, store

blueprint = Blueprint("health", __name__, description="Liveness")


@blueprint.route("/healthz", methods=["GET"])
@blueprint.response(200, HealthSchema)
@public(blueprint)
def healthz():
    """Alive."""
    return {"status": "ok", "policy_version": active_policy().policy.version}


@blueprint.route("/readyz", methods=["GET"])
@blueprint.response(200, ReadySchema)
@blueprint.alt_response(503, schema=ProblemSchema, content_type=PROBLEM_JSON,
                        description="Not ready: the database is unreachable, or this "
                                    "worker cannot load the active policy version")
@public(blueprint)
def readyz():
    """Ready: the active policy version serves and the database answers."""
    active = active_policy()
    store().ping()
    behind = holder().behind
    if behind is not None:
        raise NotReady(f"Behind: serving policy version {active.policy.version}, but version "
                       f"{behind.version} is active and does not load here: {behind.reason}",
                       max(1, math.ceil(holder().poll_seconds)), active.policy.version,
                       behind.version)
    return {"status": "ready", "policy_version": active.policy.version, "database": "ok"}


@blueprint.route("/metrics", methods=["GET"])
@blueprint.doc(responses={"200": {"description": "Prometheus text exposition",
                                  "content": {"text/plain": {"schema": {"type": "string"}}}}})
@public(blueprint)
def metrics_view():
    """Prometheus metrics of every worker."""
    body, content_type = metrics.render()
    return current_app.response_class(body, mimetype=content_type.split(";")[0],
                                      content_type=content_type)
