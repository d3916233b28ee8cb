"""`amends serve`: the HTTP API under gunicorn, in this process."""

from __future__ import annotations

import errno
import os
import re
import socket
import sys
from pathlib import Path

from service.config import ConfigError, Settings


def add(commands, policy) -> None:
    serve = commands.add_parser("serve", help="run the HTTP API under gunicorn")
    serve.add_argument("--host", help="default: AMENDS_HOST or 127.0.0.1")
    serve.add_argument("--port", type=int, help="default: AMENDS_PORT or 8000")
    serve.add_argument("--workers", type=int, help="default: AMENDS_WORKERS or 2")
    serve.set_defaults(run=lambda args, settings: serve_http(
        settings, host_from="--host" if args.host is not None else "AMENDS_HOST",
        port_from="--port" if args.port is not None else "AMENDS_PORT"))


def prepare_metrics_dir(settings: Settings) -> Path | None:
    """A fresh metrics folder for this server's workers (AMENDS_METRICS_DIR or a temporary
    one): files left by an earlier run would be summed in. prometheus_client reads it from
    PROMETHEUS_MULTIPROC_DIR, so that one variable is set, before any metric exists. Returns
    the temporary folder made, for removal when the server stops."""
    import tempfile

    directory = settings.metrics_dir
    if directory is not None:
        clear_metrics_dir(directory)
        made = None
    else:
        directory = made = Path(tempfile.mkdtemp(prefix="amends-metrics-"))
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory)
    return made


METRICS_FILE = re.compile(r"(counter|gauge|histogram|summary)_[a-z0-9_]+\.db")


def clear_metrics_dir(directory: Path) -> None:
    """AMENDS_METRICS_DIR made, or emptied of the metrics files an earlier run left; a folder
    holding anything else is refused (ConfigError), never emptied: it may be the data."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        found = sorted(path.name for path in directory.iterdir())
    except OSError as error:
        raise ConfigError(f"AMENDS_METRICS_DIR ({directory}) cannot be made or read: "
                          f"{error.strerror or error}") from None
    others = [name for name in found if not METRICS_FILE.fullmatch(name)]
    if others:
        shown = ", ".join(others[:5]) + (", ..." if len(others) > 5 else "")
        raise ConfigError(f"AMENDS_METRICS_DIR ({directory}) holds files that are not "
                          f"metrics ({shown}): name an empty folder of its own, which Amends "
                          "empties of its metrics files at every start")
    for name in found:
        try:
            (directory / name).unlink()
        except OSError as error:
            raise ConfigError(f"AMENDS_METRICS_DIR ({directory}): cannot remove {name}: "
                              f"{error.strerror or error}") from None


def _check_access_log(path: str | None) -> None:
    """AMENDS_ACCESS_LOG, a file gunicorn will append to: said in one line if it cannot be
    (gunicorn would stop with a line of its own, not JSON, exit 1)."""
    if not path or path == "-":
        return
    try:
        with open(path, "a", encoding="utf-8"):
            pass
    except OSError as error:
        raise ConfigError(f"AMENDS_ACCESS_LOG ({path}) cannot be written: "
                          f"{error.strerror or error}") from None


def check_address(settings: Settings, host_from: str = "AMENDS_HOST",
                  port_from: str = "AMENDS_PORT") -> None:
    """The address gunicorn will listen on, bound once and let go as gunicorn binds it
    (SO_REUSEADDR): a host that does not resolve or is not this machine's, or a port in use
    or forbidden, is said in one line naming the setting (`host_from`, `port_from`: the
    variable or the flag that gave it), not by gunicorn's retries for 5 s and a stop with
    lines of its own, exit 1."""
    from gunicorn.util import is_ipv6

    host, port = settings.address
    where = settings.bind
    try:
        with socket.socket(socket.AF_INET6 if is_ipv6(host) else socket.AF_INET,
                           socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    except socket.gaierror as error:
        raise ConfigError(f"{host_from} ({host}) is not a host name or address this machine "
                          f"can resolve: {error.strerror or error}") from None
    except OSError as error:
        reason = error.strerror or str(error)
        if error.errno == errno.EADDRINUSE:
            raise ConfigError(f"{port_from} ({port}): {where} is in use already (another "
                              "server?): choose another port, or stop what listens there"
                              ) from None
        if error.errno == errno.EACCES:
            raise ConfigError(f"{port_from} ({port}): not allowed to listen on {where} "
                              f"({reason}; ports below 1024 need privileges)") from None
        if error.errno == errno.EADDRNOTAVAIL:
            raise ConfigError(f"{host_from} ({host}) is not an address of this machine: "
                              f"{reason}") from None
        raise ConfigError(f"cannot listen on {where} ({host_from}, {port_from}): {reason}"
                          ) from None


def inherits_sockets() -> bool:
    """Whether gunicorn will listen on sockets handed to it, already bound: by systemd's
    socket activation (LISTEN_FDS for this process) or by the master it replaces on USR2
    (GUNICORN_FD). Binding the address to try it would find it in use."""
    if os.environ.get("GUNICORN_FD"):
        return True
    return bool(os.environ.get("LISTEN_FDS")) and \
        os.environ.get("LISTEN_PID", str(os.getpid())) == str(os.getpid())


def serve_http(settings: Settings, host_from: str = "AMENDS_HOST",
               port_from: str = "AMENDS_PORT") -> int:
    """Run gunicorn in this process; its temporary folders go when it stops. `host_from`
    and `port_from` name where the address came from (a variable or a flag)."""
    import shutil
    import tempfile

    from service.store.database import upgrade

    if not inherits_sockets():
        check_address(settings, host_from, port_from)
    _check_access_log(settings.access_log)
    if settings.is_sqlite:  # the embedded default migrates itself; PostgreSQL on purpose
        upgrade(settings.database_url)
    # Where the workers share which policy version is active (see service.app.policy_reload).
    temporary = [prepare_metrics_dir(settings), Path(tempfile.mkdtemp(prefix="amends-runtime-"))]
    settings = settings.with_overrides(runtime_dir=temporary[-1])
    master = os.getpid()
    try:
        return _run_gunicorn(settings)
    finally:
        if os.getpid() == master:  # a forked worker leaving through here keeps them
            for folder in temporary:
                if folder is not None:
                    shutil.rmtree(folder, ignore_errors=True)


def _run_gunicorn(settings: Settings) -> int:
    from gunicorn.app.base import BaseApplication

    # Built here, in what becomes gunicorn's master, before it forks workers (preload): a
    # policy or configuration that cannot serve stops here with its report, not a traceback.
    from service.app.policy_reload import PolicyUnavailable
    from service.gunicorn_conf import options
    from service.store.database import StoreError
    from service.store.errors import DatabaseUnavailable
    from service.web.app_factory import create_app

    try:
        app = create_app(settings)
    except PolicyUnavailable as error:
        print(f"amends: {error.report}", file=sys.stderr)
        return 1
    except (ConfigError, StoreError, DatabaseUnavailable) as error:
        print(f"amends: {error}", file=sys.stderr)
        return 2  # as any command that cannot use its settings or the database

    class Gunicorn(BaseApplication):
        def load_config(self):
            for name, value in options(settings).items():
                self.cfg.set(name, value)

        def load(self):
            return app

    Gunicorn().run()
    return 0
