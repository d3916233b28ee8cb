"""One bound on a request's waits on the database, however many times it asks (the policy
poll, a transaction, a retry after a race): every wait ends, all together, within the
store's timeout of the request's start, so that the request gets its 503 in time and never
outlives the worker timeout. It starts with the request (Flask's request_started signal, so
before any before_request function) and ends with it. One exception: a what-if replay's
reads get a bound of their own once its candidate is loaded (service.web.routes.replay)."""

from __future__ import annotations

import time

from flask import Flask, current_app, g, request_started

from service.store.database import Store


def register(app: Flask, store: Store) -> None:
    def start(_sender, **_extra) -> None:
        g.amends_started = time.monotonic()  # the request's start, for work bounds too
        bound = store.bounded()
        bound.__enter__()
        g.amends_database_bound = bound

    request_started.connect(start, app, weak=False)

    @app.teardown_request
    def _end(_error) -> None:
        bound = g.pop("amends_database_bound", None)
        if bound is not None:
            bound.__exit__(None, None, None)


# Work that may take long (a report, a what-if replay) stops this long before the worker
# timeout (or a tenth of it, if more; half of a timeout shorter than twice this), counted
# from the request's start: time to answer, rather than a worker killed.
WORKER_MARGIN_SECONDS = 2.0


def before_worker_timeout() -> float:
    """When a request's long work must end (time.monotonic()), from the request's start."""
    timeout = current_app.extensions["amends.settings"].worker_timeout_seconds
    margin = min(max(WORKER_MARGIN_SECONDS, timeout / 10), timeout / 2)
    return g.amends_started + timeout - margin
