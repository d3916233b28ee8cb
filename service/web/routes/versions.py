"""Policy versions, for roles that own the policy: every stored version with its activations,
one with its files, refused attempts, what changed between two, and a rollback."""

from __future__ import annotations

from flask import current_app
from flask_smorest import Blueprint
from marshmallow import RAISE

from schemas.grants import EmptyBodySchema
from schemas.versions import (
    RefusalListSchema,
    RefusalsQuerySchema,
    RollbackSchema,
    VersionDiffSchema,
    VersionListSchema,
    VersionSchema,
    VersionsQuerySchema,
)
from service.app import policy_versions
from service.web.auth import authenticate, owners_only
from service.web.errors import PolicyRefused
from service.web.openapi import json_body, problems
from service.web.presenters import versions as present
from service.web.requests import body_as
from service.web.resources import holder, store

blueprint = Blueprint("versions", __name__, url_prefix="/v1",
                      description="Policy versions: list, show, diff, refused attempts, "
                                  "rollback (roles marked `policy_owner` or `admin`)")

ROLLBACK_VIA = "api:rollback"


@blueprint.route("/policy/versions", methods=["GET"])
@owners_only
@blueprint.arguments(VersionsQuerySchema, location="query", as_kwargs=True,
                     unknown=RAISE)
@blueprint.response(200, VersionListSchema)
@problems(blueprint, 401, 403, 422)
def list_versions(limit: int, cursor: str | None):
    """Every activated version, newest first (by first activation), each with every
    activation (who, when, how) and whether it is the active one; a page at a time (follow
    `next_cursor` until it is null)."""
    page = policy_versions.list_versions(store(), limit, cursor)
    return current_app.json.response(present.version_page_json(page))


@blueprint.route("/policy/versions/<version>", methods=["GET"])
@owners_only
@blueprint.response(200, VersionSchema)
@problems(blueprint, 401, 403, 404, 422)
def show_version(version: str):
    """One stored version: its files exactly as activated, and every activation."""
    detail = policy_versions.show_version(store(), version)
    return current_app.json.response(present.version_json(detail))


@blueprint.route("/policy/versions/<old_version>/diff/<new_version>", methods=["GET"])
@owners_only
@blueprint.response(200, VersionDiffSchema)
@problems(blueprint, 401, 403, 404, 422)
def diff_versions(old_version: str, new_version: str):
    """What changed from one stored version to another: rules added, removed and changed
    field by field; roles and their limits; settings. `lines` says each change in a
    sentence."""
    compared = policy_versions.compare_versions(store(), old_version, new_version,
                                                names=("old_version", "new_version"))
    return current_app.json.response(present.diff_json(compared))


@blueprint.route("/policy/versions/<version>/activate", methods=["POST"])
@owners_only
@json_body(blueprint, EmptyBodySchema, "Nothing, or an empty object", required=False)
@blueprint.response(200, RollbackSchema)
@problems(blueprint, 400, 401, 403, 404, 413, 415, 422)
def rollback(version: str):
    """Roll back (or forward) to a stored version: proven as any activation is (checked,
    compiled, its own tests) and refused, with its reasons, when it fails or would orphan
    stored work (`422`, the active version serving on). This instance's workers serve it
    from their next request; other instances within `AMENDS_POLICY_POLL_SECONDS`."""
    body_as(EmptyBodySchema)  # none, or {}: refused like any body not of that form
    principal = authenticate()
    followed = holder()
    result = policy_versions.rollback(store(), version, principal.id, ROLLBACK_VIA,
                                      followed.work_dir, followed.check, followed.load_limit)
    if result.refused:
        raise PolicyRefused(version, followed.current.policy.version,
                            list(result.activation.reasons))
    followed.forked()  # ask the database at once, not at the next poll
    followed.follow()
    followed.announce()  # and this instance's other workers at their next request
    return current_app.json.response(present.rollback_json(result))


@blueprint.route("/policy/refusals", methods=["GET"])
@owners_only
@blueprint.arguments(RefusalsQuerySchema, location="query", as_kwargs=True,
                     unknown=RAISE)
@blueprint.response(200, RefusalListSchema)
@problems(blueprint, 401, 403, 422)
def list_refusals(limit: int, cursor: str | None):
    """Every refused attempt to activate a version, newest first, with who, when, how and
    every reason; a page at a time."""
    page = policy_versions.list_refusals(store(), limit, cursor)
    return current_app.json.response(present.refusal_page_json(page))
