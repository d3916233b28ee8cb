"""`amends serve`: an address it cannot listen on is said in one line, exit 2, before
anything else is done (gunicorn would retry for 5 s, then stop with lines of its own, exit 1)."""

import socket

import pytest

from service.cli import main


@pytest.fixture
def environment(tmp_path, monkeypatch):
    monkeypatch.setenv("AMENDS_API_KEYS_FILE", "config/dev-api-keys.yaml")
    monkeypatch.setenv("AMENDS_DATA_DIR", str(tmp_path / "data"))
    for name in ("AMENDS_DATABASE_URL", "DATABASE_URL", "AMENDS_HOST", "AMENDS_PORT"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


@pytest.fixture
def taken_port():
    """A port something else listens on (as gunicorn would: SO_REUSEADDR)."""
    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield listener.getsockname()[1]


def said_in_one_line(capsys, argv) -> str:
    assert main(["serve", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("amends: ") and len(err.strip().splitlines()) == 1, err
    return err


def test_a_port_in_use_is_named(environment, capsys, monkeypatch, taken_port):
    err = said_in_one_line(capsys, ["--port", str(taken_port)])
    assert err.startswith(f"amends: --port ({taken_port}): 127.0.0.1:{taken_port} is in "
                          "use already"), err
    monkeypatch.setenv("AMENDS_PORT", str(taken_port))
    err = said_in_one_line(capsys, [])
    assert err.startswith(f"amends: AMENDS_PORT ({taken_port}): "), err
    assert not (environment / "data").exists()  # nothing was done: no database made


@pytest.mark.parametrize("host", ["nosuchhost.invalid", "999.1.1.1"])
def test_a_host_that_does_not_resolve_is_named(environment, capsys, monkeypatch, host):
    monkeypatch.setenv("AMENDS_HOST", host)
    err = said_in_one_line(capsys, ["--port", "0"])
    assert err.startswith(f"amends: AMENDS_HOST ({host}) is not a host name or address this "
                          "machine can resolve"), err
    err = said_in_one_line(capsys, ["--port", "0", "--host", host])
    assert err.startswith(f"amends: --host ({host}) "), err


def test_an_address_of_another_machine_is_named(environment, capsys, monkeypatch):
    monkeypatch.setenv("AMENDS_HOST", "192.0.2.1")  # TEST-NET-1: no machine's own
    err = said_in_one_line(capsys, ["--port", "0"])
    assert err.startswith("amends: AMENDS_HOST (192.0.2.1) is not an address of this "
                          "machine"), err
