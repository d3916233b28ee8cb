"""One `Settings` object, read once from the environment (and the command line's flags).

Every other module takes what it needs from the Settings it is given; none reads the
environment itself.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from importlib.resources import files
from pathlib import Path

LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
# The longest any interval or timeout may be: longer ones overflow the waits they are given
# to (a worker's select, a thread's sleep), which then fail at every turn.
MAX_SECONDS = 86400


class ConfigError(RuntimeError):
    """The service cannot start with this configuration; the message says what to change."""


def shipped_policy() -> Path:
    """The policy shipped with Amends (package data of `rules`, wherever it is installed)."""
    return Path(str(files("rules") / "default"))


def database_url(raw: str | None, data_dir: Path) -> str:
    """A SQLAlchemy URL: PostgreSQL URLs get the psycopg driver; no URL means SQLite in
    `data_dir`."""
    if raw:
        if raw.startswith("postgres://"):
            raw = "postgresql://" + raw[len("postgres://"):]
        if raw.startswith("postgresql://"):
            raw = "postgresql+psycopg://" + raw[len("postgresql://"):]
        return raw
    return f"sqlite:///{data_dir.resolve() / 'amends.db'}"


def _check_database_url(url: str) -> None:
    """SQLite, or PostgreSQL through psycopg (the one driver installed), in a URL that reads
    whole: anything else is a ConfigError, said before any connection is tried."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
        parsed.port  # noqa: B018  (a port that is no number raises here)
        kind = (parsed.get_backend_name(), parsed.get_driver_name())
    except (ArgumentError, ValueError) as error:
        raise ConfigError(f"cannot use the database URL (AMENDS_DATABASE_URL): {error}"
                          ) from None
    if kind not in (("sqlite", "pysqlite"), ("postgresql", "psycopg")):
        raise ConfigError(f"AMENDS_DATABASE_URL: Amends keeps its data in SQLite or in "
                          f"PostgreSQL through psycopg (postgresql://...), not "
                          f"{'+'.join(kind)}")


@dataclass(frozen=True)
class JwtSettings:
    public_keys: Path
    issuer: str
    audience: str
    principal_claim: str = "sub"
    role_claim: str = "amends_role"


@dataclass(frozen=True)
class Settings:
    policy_dir: Path = field(default_factory=shipped_policy)
    api_keys_file: Path | None = None
    database_url: str = ""
    data_dir: Path = Path("data")
    max_body_bytes: int = 64 * 1024
    jwt: JwtSettings | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 2
    worker_timeout_seconds: int = 30
    access_log: str | None = None  # gunicorn's own access log (Amends logs each request)
    log_level: str = "info"
    metrics_dir: Path | None = None  # where workers keep metrics; a fresh folder when unset
    runtime_dir: Path | None = None  # where workers share the active policy version
    policy_watch_seconds: float = 0.0
    # How long any wait on the database may last (connecting, a statement, a lock, SQLite's
    # writer queue) before the request gets a 503: well below the worker timeout.
    database_timeout_seconds: float = 5.0
    # How often a worker asks the database whether another version was activated elsewhere.
    policy_poll_seconds: float = 1.0
    # How long a request (its head and body) may take to arrive: a sync worker waits on a
    # slow client that long at most (service.gunicorn_worker.ReadDeadline). None: 10 s, or
    # half the worker timeout when that is shorter.
    read_timeout_seconds: float | None = None

    def __post_init__(self) -> None:
        if not self.database_url:
            object.__setattr__(self, "database_url", database_url(None, self.data_dir))
        if not 0 < self.worker_timeout_seconds <= MAX_SECONDS:
            raise ConfigError(f"AMENDS_TIMEOUT ({self.worker_timeout_seconds}) must be a "
                              f"positive number of seconds, at most {MAX_SECONDS} (a day)")
        if not 0 < self.database_timeout_seconds < self.worker_timeout_seconds / 2:
            raise ConfigError(
                f"AMENDS_DATABASE_TIMEOUT_SECONDS ({self.database_timeout_seconds}) must be "
                f"positive and below half the worker timeout (AMENDS_TIMEOUT, "
                f"{self.worker_timeout_seconds} s), so that a slow database gets a 503, never "
                "a killed worker")
        if self.read_timeout_seconds is None:
            object.__setattr__(self, "read_timeout_seconds",
                               min(10.0, self.worker_timeout_seconds / 2))
        if not 0 < self.read_timeout_seconds < self.worker_timeout_seconds:
            raise ConfigError(
                f"AMENDS_READ_TIMEOUT_SECONDS ({self.read_timeout_seconds}) must be positive "
                f"and below the worker timeout ({self.worker_timeout_seconds} s)")
        if not 0 < self.policy_poll_seconds <= MAX_SECONDS:  # nan compares false either way
            raise ConfigError(f"AMENDS_POLICY_POLL_SECONDS ({self.policy_poll_seconds}) must "
                              f"be a positive number of seconds, at most {MAX_SECONDS} (a day)")
        if not 0 <= self.policy_watch_seconds <= MAX_SECONDS:
            raise ConfigError(f"AMENDS_POLICY_WATCH_SECONDS ({self.policy_watch_seconds}) "
                              "must be 0 (no watching) or a positive number of seconds, at "
                              f"most {MAX_SECONDS} (a day)")
        _check_database_url(self.database_url)
        if self.max_body_bytes < 1024:
            raise ConfigError(f"AMENDS_MAX_BODY_BYTES ({self.max_body_bytes}) must be at least "
                              "1024: an incident is a few hundred bytes")
        if self.workers < 1:
            raise ConfigError(f"AMENDS_WORKERS ({self.workers}) must be at least 1")
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"AMENDS_PORT ({self.port}) must be a port, 0 to 65535")
        _check_host(self.host)
        if self.log_level.lower() not in LOG_LEVELS:
            raise ConfigError(f"AMENDS_LOG_LEVEL ({self.log_level!r}) must be one of "
                              f"{', '.join(LOG_LEVELS)}")

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None, **overrides) -> Settings:
        env = os.environ if environ is None else environ
        data_dir = Path(env.get("AMENDS_DATA_DIR") or "data")
        keys = env.get("AMENDS_API_KEYS_FILE")
        settings = cls(
            policy_dir=Path(env["AMENDS_POLICY"]) if env.get("AMENDS_POLICY")
            else shipped_policy(),
            api_keys_file=Path(keys) if keys else None,
            database_url=database_url(env.get("AMENDS_DATABASE_URL") or env.get("DATABASE_URL"),
                                      data_dir),
            data_dir=data_dir,
            max_body_bytes=_integer(env, "AMENDS_MAX_BODY_BYTES", 64 * 1024),
            jwt=_jwt(env),
            host=env.get("AMENDS_HOST") or "127.0.0.1",
            port=_integer(env, "AMENDS_PORT", 8000),
            workers=_integer(env, "AMENDS_WORKERS", 2),
            worker_timeout_seconds=_integer(env, "AMENDS_TIMEOUT", 30),
            access_log=env.get("AMENDS_ACCESS_LOG") or None,
            log_level=env.get("AMENDS_LOG_LEVEL") or "info",
            metrics_dir=Path(env["AMENDS_METRICS_DIR"]) if env.get("AMENDS_METRICS_DIR")
            else None,
            policy_watch_seconds=_number(env, "AMENDS_POLICY_WATCH_SECONDS", 0.0),
            database_timeout_seconds=_number(env, "AMENDS_DATABASE_TIMEOUT_SECONDS", 5.0),
            policy_poll_seconds=_number(env, "AMENDS_POLICY_POLL_SECONDS", 1.0),
            read_timeout_seconds=_number(env, "AMENDS_READ_TIMEOUT_SECONDS", None),
        )
        return replace(settings, **overrides)

    def with_overrides(self, **overrides) -> Settings:
        return replace(self, **overrides)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def address(self) -> tuple[str, int]:
        """Where `amends serve` listens: the host (an IPv6 address without its brackets) and
        the port."""
        return _unbracketed(self.host), self.port

    @property
    def bind(self) -> str:
        """The address as gunicorn takes it (and as messages name it): host:port, an IPv6
        host in brackets."""
        host, port = self.address
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _unbracketed(host: str) -> str:
    """The host without the brackets an IPv6 address may come in."""
    return host[1:-1] if host.startswith("[") and host.endswith("]") else host


def _check_host(host: str) -> None:
    """AMENDS_HOST names a host or an IP address, nothing more: a port in it would be the
    one listened on (not AMENDS_PORT's), and gunicorn takes `unix:` and `fd://` forms for
    sockets Amends does not set up. An IPv6 address may come bracketed or bare."""
    bare = _unbracketed(host)
    if ":" in bare:
        try:
            ipaddress.IPv6Address(bare)
            return
        except ValueError:
            pass
        if host.lower().startswith(("unix:", "fd:", "tcp:")):
            raise ConfigError(f"AMENDS_HOST ({host!r}) must be a host name or an IP address: "
                              "Amends listens on TCP at AMENDS_HOST and AMENDS_PORT, not on "
                              "a Unix socket or a descriptor")
        raise ConfigError(f"AMENDS_HOST ({host!r}) must be a host name or an IP address "
                          "(an IPv6 one bracketed or bare), without a port: the port is "
                          "AMENDS_PORT")
    if not host or any(c.isspace() or c in "/[]" for c in host):
        raise ConfigError(f"AMENDS_HOST ({host!r}) must be a host name or an IP address")


def _integer(env: Mapping[str, str], name: str, default: int) -> int:
    text = env.get(name)
    if not text:
        return default
    try:
        return int(text)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, not {text!r}") from None


def _number(env: Mapping[str, str], name: str, default: float | None) -> float | None:
    text = env.get(name)
    if not text:
        return default
    try:
        return float(text)
    except ValueError:
        raise ConfigError(f"{name} must be a number, not {text!r}") from None


def _jwt(env: Mapping[str, str]) -> JwtSettings | None:
    path = env.get("AMENDS_JWT_PUBLIC_KEYS")
    if not path:
        return None
    issuer, audience = env.get("AMENDS_JWT_ISSUER"), env.get("AMENDS_JWT_AUDIENCE")
    if not issuer or not audience:
        raise ConfigError("AMENDS_JWT_ISSUER and AMENDS_JWT_AUDIENCE are required with "
                          "AMENDS_JWT_PUBLIC_KEYS")
    return JwtSettings(Path(path), issuer, audience,
                       env.get("AMENDS_JWT_PRINCIPAL_CLAIM") or "sub",
                       env.get("AMENDS_JWT_ROLE_CLAIM") or "amends_role")
