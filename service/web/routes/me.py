"""Who is calling: the principal and role the credentials name, and what the role may do."""

from __future__ import annotations

from flask_smorest import Blueprint

from schemas.me import MeSchema
from service.web.auth import authenticate
from service.web.openapi import problems
from service.web.resources import active_policy

blueprint = Blueprint("me", __name__, url_prefix="/v1",
                      description="The caller: principal, role and what it may do")


@blueprint.route("/me", methods=["GET"])
@blueprint.response(200, MeSchema)
@problems(blueprint, 401, 403)
def show_me():
    """The caller as the credentials name it, and what its role may do under the active
    policy (`403` when the policy no longer defines the role)."""
    principal = authenticate()
    policy = active_policy().policy
    role = policy.roles[principal.role]
    return {"principal": principal.id, "role": role.name, "admin": role.admin,
            "policy_owner": role.policy_owner, "owns_policy": role.owns_policy,
            "remedies": sorted(role.remedies),
            "policy": {"name": policy.name, "version": policy.version}}
