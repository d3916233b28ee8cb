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


@pytest.mark.slow
def test_a_socket_handed_to_it_is_served_not_tried(environment):
    """A listening socket systemd hands over (socket activation: LISTEN_FDS, the socket at
    fd 3) is in use by design: gunicorn serves on it, and the address is not tried first
    (that refused every such start; the new master of a USR2 upgrade alike)."""
    import os
    import subprocess
    import sys
    import time
    import urllib.request

    from tests.support.servers import kill_group

    with socket.socket() as handed:
        handed.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        handed.bind(("127.0.0.1", 0))
        handed.listen()
        port = handed.getsockname()[1]
        env = {**os.environ, "LISTEN_FDS": "1", "AMENDS_API_KEYS_FILE": "config/dev-api-keys.yaml",
               "AMENDS_DATA_DIR": str(environment / "data")}
        server = subprocess.Popen(
            ["sh", "-c", 'LISTEN_PID=$$ exec "$0" -m service.cli serve --port "$1" '
                         "--workers 1", sys.executable, str(port)],
            env=env, preexec_fn=lambda: os.dup2(handed.fileno(), 3), close_fds=False,
            start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            text=True)
        try:
            deadline = time.monotonic() + 60
            while True:
                assert server.poll() is None, server.stderr.read()
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz",
                                                timeout=5) as answer:
                        assert answer.status == 200
                        break
                except OSError:
                    assert time.monotonic() < deadline, "no answer on the handed socket"
                    time.sleep(0.2)
        finally:
            kill_group(server)
