"""One Settings, read once: what the environment says, what it defaults to, what it refuses."""

import re
from pathlib import Path

import pytest

from service.config import ConfigError, Settings, shipped_policy
from service.web.app_factory import create_app
from tests.conftest import ROOT


def test_defaults_need_no_environment(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    settings = Settings.from_environment({})
    assert settings.policy_dir == shipped_policy()
    assert (settings.policy_dir / "policy.yaml").is_file()
    assert settings.api_keys_file is None  # not a development checkout
    assert settings.database_url == f"sqlite:///{tmp_path / 'data' / 'amends.db'}"
    assert (settings.host, settings.port, settings.workers) == ("127.0.0.1", 8000, 2)
    assert settings.jwt is None and settings.policy_watch_seconds == 0


def test_the_environment_and_flags(tmp_path):
    settings = Settings.from_environment({
        "AMENDS_POLICY": str(tmp_path), "AMENDS_API_KEYS_FILE": "/etc/amends/keys.yaml",
        "DATABASE_URL": "postgres://amends@db/amends", "AMENDS_MAX_BODY_BYTES": "1024",
        "AMENDS_WORKERS": "4", "AMENDS_POLICY_WATCH_SECONDS": "2.5"}, port=9000)
    assert settings.policy_dir == tmp_path
    assert settings.api_keys_file == Path("/etc/amends/keys.yaml")
    assert settings.database_url == "postgresql+psycopg://amends@db/amends"
    assert not settings.is_sqlite
    assert (settings.max_body_bytes, settings.workers, settings.port) == (1024, 4, 9000)
    assert settings.policy_watch_seconds == 2.5


@pytest.mark.parametrize("name, value", [("AMENDS_PORT", "eighty"),
                                         ("AMENDS_POLICY_WATCH_SECONDS", "soon")])
def test_a_bad_number_is_refused_by_name(name, value):
    with pytest.raises(ConfigError, match=name):
        Settings.from_environment({name: value})


@pytest.mark.parametrize(("name", "value", "words"), [
    ("AMENDS_MAX_BODY_BYTES", "0", "at least 1024"),
    ("AMENDS_MAX_BODY_BYTES", "-5", "at least 1024"),
    ("AMENDS_WORKERS", "0", "at least 1"),
    ("AMENDS_PORT", "70000", "0 to 65535"),
    ("AMENDS_LOG_LEVEL", "loud", "must be one of debug, info"),
    ("AMENDS_POLICY_WATCH_SECONDS", "-2", "0 (no watching) or a positive number"),
    ("AMENDS_READ_TIMEOUT_SECONDS", "0", "positive and below the worker timeout"),
    ("AMENDS_READ_TIMEOUT_SECONDS", "30", "positive and below the worker timeout"),
    ("AMENDS_POLICY_WATCH_SECONDS", "nan", "0 (no watching) or a positive number"),
    ("AMENDS_POLICY_WATCH_SECONDS", "inf", "0 (no watching) or a positive number"),
    ("AMENDS_POLICY_POLL_SECONDS", "nan", "a positive number"),
    ("AMENDS_POLICY_POLL_SECONDS", "inf", "a positive number"),
    # Accepted, these overflowed a worker's select or the watcher's sleep at every turn.
    ("AMENDS_TIMEOUT", "100000000000000000000", "at most 86400 (a day)"),
    ("AMENDS_TIMEOUT", "86401", "at most 86400 (a day)"),
    ("AMENDS_POLICY_POLL_SECONDS", "1e300", "at most 86400 (a day)"),
    ("AMENDS_POLICY_WATCH_SECONDS", "1e300", "at most 86400 (a day)"),
    ("AMENDS_POLICY_WATCH_SECONDS", "86400.5", "at most 86400 (a day)"),
    ("AMENDS_TIMEOUT", "8", ", 8 s), so that a slow database gets a 503"),
    ("AMENDS_DATABASE_URL", "mysql://u@localhost/db", "through psycopg (postgresql://...), "
                                                       "not mysql+mysqldb"),
    ("AMENDS_DATABASE_URL", "postgresql+psycopg2://u@h/db", "not postgresql+psycopg2"),
    ("AMENDS_DATABASE_URL", "postgresql://u@127.0.0.1:x/db", "invalid literal for int()"),
])
def test_a_value_the_service_cannot_run_with_is_refused_by_name(name, value, words):
    with pytest.raises(ConfigError, match=f"{name}.*{re.escape(words)}"):
        Settings.from_environment({name: value})


def test_jwt_settings_need_issuer_and_audience():
    with pytest.raises(ConfigError, match="AMENDS_JWT_AUDIENCE"):
        Settings.from_environment({"AMENDS_JWT_PUBLIC_KEYS": "keys.pem",
                                   "AMENDS_JWT_ISSUER": "https://id.example.test/"})


def test_no_key_file_is_assumed_even_in_a_checkout(monkeypatch):
    monkeypatch.chdir(ROOT)  # ./dev serve names the development keys; nothing else does
    assert Settings.from_environment({}).api_keys_file is None


def test_dev_serve_names_the_development_keys():
    dev = (ROOT / "dev").read_text()
    assert "AMENDS_API_KEYS_FILE=${AMENDS_API_KEYS_FILE:-config/dev-api-keys.yaml}" in dev


def test_without_a_key_file_the_service_refuses_to_start(shipped):
    with pytest.raises(ConfigError, match="AMENDS_API_KEYS_FILE"):
        create_app(Settings(api_keys_file=None), active_policy=shipped)


def test_the_longest_timeouts_and_intervals_are_a_day():
    settings = Settings.from_environment({
        "AMENDS_TIMEOUT": "86400", "AMENDS_DATABASE_TIMEOUT_SECONDS": "43199",
        "AMENDS_READ_TIMEOUT_SECONDS": "86399", "AMENDS_POLICY_POLL_SECONDS": "86400",
        "AMENDS_POLICY_WATCH_SECONDS": "86400"})
    assert settings.worker_timeout_seconds == 86400
    assert settings.database_timeout_seconds == 43199
    assert settings.policy_poll_seconds == settings.policy_watch_seconds == 86400


@pytest.mark.parametrize(("host", "words"), [
    ("127.0.0.1:9999", "without a port: the port is AMENDS_PORT"),  # listened on 9999
    ("localhost:8000", "without a port"),
    ("[::1]:8000", "without a port"),
    ("[127.0.0.1]", "must be a host name or an IP address"),
    ("unix:/run/amends.sock", "not on a Unix socket or a descriptor"),
    ("unix:///run/amends.sock", "not on a Unix socket or a descriptor"),
    ("fd://3", "not on a Unix socket or a descriptor"),
    ("tcp://127.0.0.1", "not on a Unix socket or a descriptor"),
    (" 127.0.0.1", "must be a host name or an IP address"),
    ("10.0.0.0/8", "must be a host name or an IP address"),
])
def test_a_host_that_is_not_one_is_refused_by_name(host, words):
    """gunicorn would take a port, a Unix socket or a descriptor in what it is given as the
    host, and listen there rather than at AMENDS_PORT."""
    with pytest.raises(ConfigError, match=f"^AMENDS_HOST .*{re.escape(words)}"):
        Settings.from_environment({"AMENDS_HOST": host})


def test_an_empty_host_flag_is_refused():  # gunicorn would listen on every interface
    with pytest.raises(ConfigError, match="AMENDS_HOST"):
        Settings.from_environment({}, host="")


@pytest.mark.parametrize(("host", "address"), [
    ("127.0.0.1", ("127.0.0.1", 8000)), ("0.0.0.0", ("0.0.0.0", 8000)),
    ("localhost", ("localhost", 8000)), ("amends.internal", ("amends.internal", 8000)),
    ("::1", ("::1", 8000)), ("[::1]", ("::1", 8000)), ("::", ("::", 8000)),
    ("[2001:db8::1]", ("2001:db8::1", 8000))])
def test_a_host_name_or_an_ip_address_bracketed_or_bare_is_taken(host, address):
    assert Settings.from_environment({"AMENDS_HOST": host}).address == address
