"""What-if replay: stored decisions run through a candidate policy, nothing stored."""

from __future__ import annotations

import time

from flask import current_app, g
from flask_smorest import Blueprint

from schemas.replay import ReplayReportSchema, ReplayRequestSchema
from service.app.replay import candidate_folder, candidate_version, replay, replay_period
from service.store import keyset
from service.web.auth import owners_only
from service.web.deadline import before_worker_timeout
from service.web.openapi import json_body, problems
from service.web.presenters.replay import CURSOR_LIST, replay_json
from service.web.requests import body_as
from service.web.resources import active_policy, store

blueprint = Blueprint("replay", __name__, url_prefix="/v1",
                      description="The policy owner's workbench")

# The last read of a replay starts this long before the request's database bound ends (it
# must end within it), at most half of that bound.
READ_MARGIN_SECONDS = 1.0
# However long the candidate took to load, a call replays for at least this long after, so
# that following next_cursor always gets somewhere.
AT_LEAST_SECONDS = 1.0


@blueprint.route("/policy/replay", methods=["POST"])
@owners_only
@json_body(blueprint, ReplayRequestSchema, "The candidate policy and the period")
@blueprint.response(200, ReplayReportSchema)
@problems(blueprint, 400, 401, 403, 413, 415, 422)
def replay_policy():
    """Run the stored decisions of a period, newest first, through a candidate policy (a
    stored version or a folder on the server) without storing anything, and report what
    would change: outlook, offers and approvals, money per currency before and after, how
    often each rule fires, and a sample of changed decisions with both answers. Once the
    candidate is loaded, a request reads within the database time of one request
    (`AMENDS_DATABASE_TIMEOUT_SECONDS`), and runs for at most half the worker timeout, or a
    second past the load when loading took longer: what does not fit is left for the next
    call (`complete: false`; send `next_cursor` back as `cursor`). Roles marked
    `policy_owner` (or `admin`)."""
    serving = active_policy()
    body = body_as(ReplayRequestSchema)
    after = keyset.decode(body["cursor"], (CURSOR_LIST,))[CURSOR_LIST]
    until = replay_period(body["since"], body["until"])  # before the candidate is loaded
    database = store()
    settings = current_app.extensions["amends.settings"]
    wanted = body["candidate"]
    candidate = (candidate_version(database, wanted["version"], serving)
                 if "version" in wanted else candidate_folder(wanted["folder"]))
    try:
        # Loading is no wait on the database, and may take longer than its bound (seconds
        # for 10,000 rules): the replay's reads get a bound of their own from here, or no
        # call would get past the load; it ends a margin before the worker timeout of the
        # request's start, so that a slow database is a 503, never a killed worker. The
        # replay runs for half the worker timeout of the request's start, or for at least a
        # moment past the load.
        with database.bounded(anew=True, latest=before_worker_timeout()) as database_deadline:
            now = time.monotonic()
            deadline = min(
                database_deadline - min(READ_MARGIN_SECONDS, database.timeout_seconds / 2),
                max(g.amends_started + settings.worker_timeout_seconds / 2,
                    now + AT_LEAST_SECONDS))
            result = replay(database, candidate.active, body["since"], until,
                            body["limit"], sample=body["sample"], deadline=deadline,
                            after=after)
    finally:
        candidate.close()
    return current_app.json.response(replay_json(result, candidate))
