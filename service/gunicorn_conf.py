"""gunicorn's settings and hooks for `amends serve`, all taken from one Settings.

gunicorn runs inside the `amends serve` process (see service.cli), so nothing is handed over
through environment variables; the app is built once in the master, before workers fork.
"""

from __future__ import annotations

import logging
import math
import os
import signal
import threading
import time
from pathlib import Path

from gunicorn import glogging

from service.config import Settings

# How much longer than the worker timeout a stopping server waits for the requests in hand
# (one may have just begun) before it kills their workers: gunicorn's linger on the closed
# connection (2 s) and the worker's exit.
SHUTDOWN_MARGIN_SECONDS = 5


def options(settings: Settings) -> dict:
    return {
        "bind": settings.bind,
        "workers": settings.workers,
        "worker_class": "service.gunicorn_worker.ProblemSyncWorker",
        # Load the policy and register it with the engine once, before forking workers.
        "preload_app": True,
        "timeout": settings.worker_timeout_seconds,
        # SIGTERM, SIGINT and SIGQUIT let every request in hand finish (however long it may
        # take: up to the worker timeout), then the workers stop; past this, they are killed.
        "graceful_timeout": graceful_timeout(settings),
        "keepalive": 5,
        "accesslog": settings.access_log,
        "errorlog": "-",
        "loglevel": settings.log_level,
        # gunicorn's own lines in the same JSON format as Amends' (one format in the stream).
        "logconfig_dict": json_logging(settings.log_level, settings.access_log),
        "logger_class": glogging.Logger if settings.access_log else QuietAccess,
        "pre_fork": pre_fork,
        "post_fork": post_fork,
        "child_exit": child_exit,
        "on_reload": on_reload,
        "when_ready": when_ready,
        # gunicorn 25+ opens a control socket in the home folder; Amends needs none.
        "control_socket_disable": True,
    }


def graceful_timeout(settings: Settings) -> int:
    """Seconds a stopping server gives its workers' requests in hand (gunicorn takes whole
    seconds)."""
    return math.ceil(settings.worker_timeout_seconds) + SHUTDOWN_MARGIN_SECONDS


class QuietAccess(glogging.Logger):
    """gunicorn's logger without its access log: with a logging configuration it would
    otherwise work out every line's fields for a handler that drops them."""

    def access(self, resp, req, environ, request_time) -> None:
        return None


def json_logging(level: str, access_log: str | None) -> dict:
    """gunicorn's loggers as JSON lines. Its access log only where AMENDS_ACCESS_LOG says
    ("-" for stdout, else a file): Amends already logs every request once."""
    handlers: dict = {"json": {"class": "logging.StreamHandler", "formatter": "json",
                               "stream": "ext://sys.stderr", "filters": ["credentials"]},
                      "none": {"class": "logging.NullHandler"}}
    if access_log == "-":
        handlers["access"] = {"class": "logging.StreamHandler", "formatter": "json",
                              "stream": "ext://sys.stdout"}
    elif access_log:
        handlers["access"] = {"class": "logging.FileHandler", "formatter": "json",
                              "filename": access_log}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "service.web.access_log.JsonLines"}},
        "filters": {"credentials": {"()": "service.web.access_log.RedactCredentials"}},
        "handlers": handlers,
        "loggers": {
            "gunicorn.error": {"level": level.upper(), "handlers": ["json"],
                               "propagate": False},
            "gunicorn.access": {"level": "INFO", "propagate": False,
                                "handlers": ["access" if access_log else "none"]},
        },
        "root": {"level": "WARNING", "handlers": ["json"]},
    }


def _app(server):
    return server.app.wsgi()


def pre_fork(server, worker):
    """No database connection of the master's is open when a worker forks. SQLite keeps its
    locks' bookkeeping per process: a child forked with the master's connections open
    believes it holds the shared locks the master holds and never takes them itself, so when
    the master dies (kill -9), another connection (a restarted server, `amends report`, the
    sqlite3 shell) thinks itself alone, checkpoints and deletes the WAL the orphaned workers
    still commit into: acknowledged decisions lost and indexes corrupted, a review found.
    The master's connections (start, SIGHUP reloads) are closed before every fork."""
    _app(server).extensions["amends.store"].engine.dispose()


def post_fork(server, worker):
    """Workers must not share the master's database connections (the app is preloaded):
    drop the inherited pool without closing the master's sockets. A new worker asks the
    database for the active policy version at its first request, and gives a request the
    read timeout of the one Settings."""
    app = _app(server)
    app.extensions["amends.store"].engine.dispose(close=False)
    holder = app.extensions["amends.holder"]
    holder.forked()
    holder.keep_alive = worker.notify  # while it loads a new version inside a request
    # how long a request may take to arrive (service.gunicorn_worker.ReadDeadline)
    worker.read_timeout_seconds = app.extensions["amends.settings"].read_timeout_seconds


def child_exit(server, worker):
    """A dead worker's live gauges no longer count."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


def on_reload(server):
    """SIGHUP: activate the policy folder in the (preloaded) master before new workers are
    forked; the state file and the database make every worker follow, and a refused version
    changes nothing."""
    try:
        _app(server).extensions["amends.holder"].reload(trigger="SIGHUP")
    except Exception:  # e.g. the database is down: the master lives on
        logging.getLogger("amends.policy").exception("policy reload on SIGHUP failed")


def when_ready(server):
    """With a policy watch interval set, watch the policy folder: a changed content hash
    sends this master SIGHUP, which reloads it the checked way (see on_reload)."""
    app = _app(server)
    interval = app.extensions["amends.settings"].policy_watch_seconds
    if interval <= 0:
        return
    from service.policy.loader import policy_version

    directory = Path(app.extensions["amends.holder"].source)
    log = logging.getLogger("amends.policy")

    def watch():
        seen = policy_version(directory)
        while True:
            time.sleep(interval)
            try:
                current = policy_version(directory)
            except OSError:
                continue  # mid-edit; look again next time
            if current != seen:
                seen = current
                log.info("policy folder changed; reloading")
                os.kill(os.getpid(), signal.SIGHUP)

    threading.Thread(target=watch, name="policy-watch", daemon=True).start()
