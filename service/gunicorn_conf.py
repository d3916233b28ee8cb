"""gunicorn settings for `amends serve` and the Docker image; environment overrides."""

import os

bind = os.environ.get("AMENDS_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("AMENDS_WORKERS", "2"))
worker_class = "sync"
# Load the policy and register it with the engine once, before forking workers.
preload_app = True
timeout = int(os.environ.get("AMENDS_TIMEOUT", "30"))
graceful_timeout = 20
keepalive = 5
accesslog = os.environ.get("AMENDS_ACCESS_LOG", None)
errorlog = "-"
loglevel = os.environ.get("AMENDS_LOG_LEVEL", "info")


def post_fork(server, worker):
    """Workers must not share the master's database connections (the app is preloaded):
    drop the inherited pool without closing the master's sockets."""
    from service.wsgi import app

    app.extensions["amends.store"].engine.dispose(close=False)


def child_exit(server, worker):
    """A dead worker's live gauges no longer count."""
    import os

    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


def on_reload(server):
    """SIGHUP: reload the policy in the (preloaded) master before new workers are forked;
    the state file makes every worker follow, and a refused version changes nothing."""
    from service.wsgi import app

    result = app.extensions["amends.holder"].reload(trigger="SIGHUP")
    if result.refused:
        server.log.error("policy reload refused: %s", "; ".join(result.refused["reasons"]))
    else:
        server.log.info("policy %s active", result.active.policy.version)


def when_ready(server):
    """With AMENDS_POLICY_WATCH_SECONDS set, watch the policy folder: a changed content hash
    sends this master SIGHUP, which reloads it the checked way (see on_reload)."""
    import os
    import signal
    import threading
    import time
    from pathlib import Path

    interval = float(os.environ.get("AMENDS_POLICY_WATCH_SECONDS") or 0)
    if interval <= 0:
        return
    from service.policy.loader import policy_version
    from service.wsgi import app

    directory = Path(app.extensions["amends.holder"].directory)

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
                server.log.info("policy folder changed; reloading")
                os.kill(os.getpid(), signal.SIGHUP)

    threading.Thread(target=watch, name="policy-watch", daemon=True).start()
