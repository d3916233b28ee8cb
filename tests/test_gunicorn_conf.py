"""gunicorn's settings for `amends serve`, all taken from one Settings."""

import pytest

from service.config import Settings
from service.gunicorn_conf import options


@pytest.mark.parametrize(("timeout", "database_timeout"), [(30, 5.0), (120, 50.0), (2, 0.5)])
def test_a_stopping_server_waits_out_the_longest_request(timeout, database_timeout):
    """SIGTERM (or SIGINT, SIGQUIT) lets the requests in hand finish before the workers are
    killed, for as long as one may last (the worker timeout) and a few seconds more: a fixed
    20 s cut off longer requests with a dropped connection."""
    settings = Settings(worker_timeout_seconds=timeout, database_timeout_seconds=database_timeout)
    chosen = options(settings)
    assert chosen["timeout"] == timeout
    assert timeout + 2 <= chosen["graceful_timeout"] <= timeout + 10
    assert isinstance(chosen["graceful_timeout"], int)  # gunicorn takes whole seconds


@pytest.mark.parametrize(("host", "bind"), [
    ("127.0.0.1", "127.0.0.1:8000"), ("localhost", "localhost:8000"),
    ("::1", "[::1]:8000"), ("[::1]", "[::1]:8000"), ("::", "[::]:8000")])
def test_gunicorn_listens_on_the_host_and_port_said(host, bind):
    assert options(Settings(host=host))["bind"] == bind
