"""The active policy: show it, reload it."""

from __future__ import annotations

from flask_smorest import Blueprint

from schemas.grants import EmptyBodySchema
from schemas.policy_view import PolicyViewSchema, ReloadSchema
from service.web.auth import any_role, authenticate, owners_only
from service.web.errors import PolicyRefused
from service.web.openapi import json_body, problems
from service.web.presenters.policy import policy_view
from service.web.requests import body_as
from service.web.resources import active_policy, holder

blueprint = Blueprint("policy", __name__, url_prefix="/v1",
                      description="The active policy and its reload")


@blueprint.route("/policy", methods=["GET"])
@any_role
@blueprint.response(200, PolicyViewSchema)
@problems(blueprint, 401)
def show_policy():
    """The active policy: version, rules, roles and limits, and the last refused reload."""
    return policy_view(active_policy(), holder().last_refused)


@blueprint.route("/policy/reload", methods=["POST"])
@owners_only
@json_body(blueprint, EmptyBodySchema, "Nothing, or an empty object", required=False)
@blueprint.response(200, ReloadSchema)
@problems(blueprint, 400, 401, 403, 413, 415, 422)
def reload_policy():
    """Load the policy folder again and activate it: checked, compiled and self-tested, and
    orphaning no stored work, before it serves in every worker of every instance; refused
    with its reasons otherwise, the active version serving on (roles marked `admin` or
    `policy_owner`)."""
    body_as(EmptyBodySchema)  # none, or {}: refused like any body not of that form
    principal = authenticate()
    result = holder().reload(trigger=f"api:{principal.id}", by=principal.id)
    if result.refused is not None:
        raise PolicyRefused(result.refused.version, result.active.policy.version,
                            list(result.refused.reasons))
    return {"changed": result.changed, "policy": policy_view(result.active)}
