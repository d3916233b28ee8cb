"""The active policy: show it, reload it."""

from __future__ import annotations

from flask_smorest import Blueprint

from schemas.policy_view import PolicyViewSchema, ReloadSchema
from service.app.errors import Forbidden
from service.web.auth import authenticate
from service.web.errors import PolicyRefused
from service.web.openapi import problems
from service.web.presenters.policy import policy_view
from service.web.resources import active_policy, holder

blueprint = Blueprint("policy", __name__, url_prefix="/v1",
                      description="The active policy and its reload")


@blueprint.route("/policy", methods=["GET"])
@blueprint.response(200, PolicyViewSchema)
@problems(blueprint, 401)
def show_policy():
    """The active policy: version, rules, roles and limits, and the last refused reload."""
    authenticate()
    return policy_view(active_policy(), holder().last_refused)


@blueprint.route("/policy/reload", methods=["POST"])
@blueprint.response(200, ReloadSchema)
@problems(blueprint, 401, 403, 422)
def reload_policy():
    """Load the policy folder again and activate it: checked, compiled and self-tested, and
    orphaning no stored work, before it serves in every worker of every instance; refused
    with its reasons otherwise, the active version serving on (roles marked `admin` or
    `policy_owner`)."""
    principal = authenticate()
    role = active_policy().policy.roles.get(principal.role)
    if role is None or not role.owns_policy:
        raise Forbidden("Only a role marked `admin` or `policy_owner` in roles.yaml may reload "
                        "the policy.")
    result = holder().reload(trigger=f"api:{principal.id}", by=principal.id)
    if result.refused is not None:
        raise PolicyRefused(result.refused.version, result.active.policy.version,
                            list(result.refused.reasons))
    return {"changed": result.changed, "policy": policy_view(result.active)}
