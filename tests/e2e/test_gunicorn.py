"""One real server: `amends serve` under gunicorn, with two workers."""

import json
import socket
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from service.config import Settings
from tests.conftest import auth, design_example
from tests.support.servers import running_server


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    environment = {"AMENDS_DATA_DIR": str(tmp_path_factory.mktemp("data")),
                   "AMENDS_DATABASE_URL": "", "DATABASE_URL": ""}
    with running_server(environment) as (base, process):
        server_logs[base] = process.log_path
        yield base


server_logs: dict[str, str] = {}


def request(base, path, body=None, headers=None):
    data = None if body is None else (body if isinstance(body, bytes) else
                                      json.dumps(body).encode())
    req = urllib.request.Request(base + path, data=data, method="POST" if data else "GET",
                                 headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=10) as response:
            return response.status, response.headers.get_content_type(), json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get_content_type(), json.load(error)


def test_decisions_through_gunicorn(server):
    customer = design_example()["customer"]["id"]
    for number in range(20):  # several requests, so both workers answer
        body = design_example(customer__id=customer)
        status, kind, decision = request(server, "/v1/decisions", body, auth())
        assert (status, kind) == (201, "application/json")
        assert decision["prior_failures"] == number  # history is shared by the workers
        expected = "likely" if number == 0 else "uncertain" if number < 3 else "unlikely"
        assert decision["recovery"]["outlook"] == expected  # repeat, then serial failure
        assert decision["offers"][0]["approver_role"] == "team_lead"
        status, _, again = request(server, "/v1/decisions", body, auth())
        assert status == 200 and again["decision_id"] == decision["decision_id"]


def test_errors_through_gunicorn(server):
    status, kind, problem = request(server, "/v1/decisions", b"{oops", auth())
    assert (status, kind) == (400, "application/problem+json")
    assert problem["status"] == 400
    status, kind, problem = request(server, "/v1/decisions", design_example())
    assert (status, kind) == (401, "application/problem+json")
    assert problem["title"] == "Unauthorized"


def metric_values(base: str) -> dict[str, float]:
    with urllib.request.urlopen(f"{base}/metrics", timeout=10) as response:
        assert response.headers.get_content_type() == "text/plain"
        text = response.read().decode()
    values = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            values[name] = float(value)
    return values


def test_metrics_sum_every_worker(server):
    before = metric_values(server)
    for _ in range(10):
        status, _, decision = request(server, "/v1/decisions", design_example(), auth())
        assert status == 201
    credit = next(o for o in decision["offers"] if o["remedy"] == "store_credit"
                  and o["variant"] == "full")
    status, _, _ = request(server, f"/v1/offers/{credit['id']}/grant", {}, auth())
    assert status == 201
    after = metric_values(server)

    def grew(name):
        return after.get(name, 0) - before.get(name, 0)

    assert grew('amends_decisions_total{outlook="likely"}') == 10
    assert grew('amends_decision_seconds_count') == 10
    assert grew('amends_offers_total{approval="required"}') == 10
    assert grew('amends_grants_total{remedy="store_credit",role="agent"}') == 1
    assert grew('amends_granted_value_total{currency="EUR",role="agent"}') == 5.0
    assert any(name.startswith("amends_policy_info{") and value == 1
               for name, value in after.items())


def test_every_log_line_is_one_json_object_gunicorns_own_included(server):
    request(server, "/healthz")
    text = Path(server_logs[server]).read_text()
    lines = [line for line in text.splitlines() if line.strip()]
    entries = [json.loads(line) for line in lines]  # fails on any line that is not JSON
    loggers = {entry["logger"] for entry in entries}
    assert {"gunicorn.error", "amends.access"} <= loggers, loggers
    assert "gunicorn.access" not in loggers  # one access line per request: Amends' own
    assert any("Booting worker" in entry["message"] for entry in entries)


def test_gunicorns_access_log_goes_only_where_asked(tmp_path):
    access = tmp_path / "access.log"
    environment = {"AMENDS_DATA_DIR": str(tmp_path / "data"), "AMENDS_DATABASE_URL": "",
                   "DATABASE_URL": "", "AMENDS_ACCESS_LOG": str(access)}
    with running_server(environment) as (base, process):
        request(base, "/healthz")
        request(base, "/healthz")
    lines = [json.loads(line) for line in access.read_text().splitlines()]
    assert {entry["logger"] for entry in lines} == {"gunicorn.access"}
    stderr = [json.loads(line) for line in Path(process.log_path).read_text().splitlines()
              if line.strip()]
    # the start-up probes and the two requests: once in each log
    assert len(lines) >= 3 and sum(entry["logger"] == "amends.access" for entry in stderr) \
        == len(lines)
    assert not any(entry["logger"] == "gunicorn.access" for entry in stderr)


def raw_answer(base: str, request_bytes: bytes) -> tuple[int, dict, dict]:
    """Status, headers and JSON body of the answer to bytes sent as they are."""
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(request_bytes)
        received = b""
        while chunk := connection.recv(65536):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers, json.loads(body)


def raw_exchange(base: str, request_bytes: bytes) -> tuple[int, str, dict]:
    """Status, Content-Type and JSON body of the answer to bytes sent as they are."""
    status, headers, body = raw_answer(base, request_bytes)
    return status, headers["Content-Type"], body


@pytest.mark.parametrize(("request_bytes", "status"), [
    (b"GET /v1/decisions?cursor=" + b"a" * 5000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
    (b"GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n", 400),
    (b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"X-Filler: y\r\n" * 200 + b"\r\n", 431),
    (b"NOT A REQUEST LINE\r\n\r\n", 400),
])
def test_what_gunicorn_refuses_is_a_problem_document_too(server, request_bytes, status):
    """Refused before Amends sees it, still application/problem+json, not gunicorn's HTML,
    with the headers every answer carries (no cache keeps it, no browser sniffs it)."""
    answered, headers, problem = raw_answer(server, request_bytes)
    assert (answered, headers["Content-Type"]) == (status, "application/problem+json")
    assert problem["status"] == status and problem["title"] and problem["detail"]
    assert headers["Cache-Control"] == "no-store"
    assert headers["X-Content-Type-Options"] == "nosniff"


def test_a_refused_header_is_named_when_it_holds_no_secret(server):
    """Which header gunicorn refused helps whoever debugs a client or a proxy: its name is
    shown when it holds no secret, and nothing after it (a line without a colon may carry a
    key)."""
    key = auth()["Authorization"].split()[1]
    for line, named in [(b"Content-Length: abc", "'CONTENT-LENGTH'"),
                        (b"Content-Type application/json", "'Content-Type' [redacted]"),
                        (f"Accept {key}".encode(), "'Accept' [redacted]")]:
        answered, _, problem = raw_exchange(
            server, b"POST /v1/decisions HTTP/1.1\r\nHost: x\r\n" + line + b"\r\n\r\n")
        assert answered == 400 and named in problem["detail"], problem
        assert key not in problem["detail"]


def test_a_key_in_a_chunked_bodys_trailer_is_not_echoed(server):
    key = auth()["Authorization"].split()[1]
    sent = (f"POST /v1/decisions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Authorization: Bearer {key}\r\nTransfer-Encoding: chunked\r\n\r\n"
            f"2\r\n{{}}\r\n0\r\nBearer {key}\r\n\r\n").encode()
    answered, _, problem = raw_exchange(server, sent)
    assert answered == 400 and problem["detail"].startswith("The body could not be read")
    assert key not in json.dumps(problem)


def test_a_transfer_coding_besides_chunked_is_a_400_whoever_sees_it(server):
    """gunicorn refuses a coding it does not know (`foo, chunked`, its 501) and passes one it
    knows on undecoded (`gzip, chunked`), which Amends then refuses: bad input, a 400 either
    way, titled as its status is."""
    body = b'{"x": 1}'
    for codings in ("foo, chunked", "gzip, chunked"):
        sent = chunked_post("/v1/decisions", [body], auth()).replace(
            b"Transfer-Encoding: chunked", f"Transfer-Encoding: {codings}".encode())
        answered, kind, problem = raw_exchange(server, sent)
        assert (answered, kind) == (400, "application/problem+json"), (codings, problem)
        assert problem["title"] == "Bad Request", problem
        assert "transfer" in problem["detail"].lower() and "chunked." in problem["detail"]


def test_a_key_in_a_header_line_gunicorn_cannot_read_is_never_logged_nor_echoed(server):
    """`Authorization Bearer <key>` (no colon), or a key on a line of its own, is a 400: its
    problem and gunicorn's log line about it quote the line, the key blanked out."""
    key = auth("manager")["Authorization"].split()[1]
    for line in (f"Authorization Bearer {key}", f"Authorization; Bearer {key}",
                 f"Authorization: Bearer \r\n{key}",  # the key a header line of its own
                 f"Authorization Bearer ab'{key}"):  # a quote in it
        assert key in line
        answered, _, problem = raw_exchange(
            server, f"GET /v1/me HTTP/1.1\r\nHost: x\r\n{line}\r\n\r\n".encode())
        assert answered == 400 and key not in json.dumps(problem), problem
    log = Path(server_logs[server]).read_text()
    assert "Invalid request" in log and "[redacted]" in log
    assert key not in log


def chunked_post(path: str, chunks: list[bytes], headers: dict) -> bytes:
    """A POST whose body comes in chunks (no Content-Length), the chunks as given."""
    head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    body = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for chunk in chunks) + b"0\r\n\r\n"
    return (f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Transfer-Encoding: chunked\r\n{head}\r\n").encode() + body


def test_a_chunked_body_is_read_whole_or_refused(server):
    """A chunked body is read to its end: under the limit it is decided; over it, a 413
    (werkzeug stops such a body at the limit without a word, and what it read was decided
    before); a chunk the server cannot read, a 400. Neither refusal stores anything."""
    limit = Settings().max_body_bytes
    body = design_example()
    text = json.dumps(body).encode()
    answered, _, decision = raw_exchange(server, chunked_post(
        "/v1/decisions", [text[:100], text[100:]], auth()))
    assert answered == 201 and decision["incident_id"] == body["incident_id"]

    body = design_example()
    padded = json.dumps(body).encode().ljust(limit)  # exactly the limit: valid JSON
    answered, kind, problem = raw_exchange(server, chunked_post(
        "/v1/decisions", [padded, b" THIS IS NOT JSON"], auth()))
    assert (answered, kind) == (413, "application/problem+json")
    assert problem["detail"] == f"The body is larger than {limit} bytes."
    answered, _, _ = raw_exchange(server, chunked_post("/v1/decisions", [padded], auth()))
    assert answered == 201  # the same body at the limit exactly: new, so nothing was stored

    broken = chunked_post("/v1/decisions", [b"{}"], auth()).replace(b"\r\n2\r\n", b"\r\nzz\r\n")
    answered, kind, problem = raw_exchange(server, broken)
    assert (answered, kind) == (400, "application/problem+json")
    assert problem["detail"].startswith("The body could not be read")


def test_a_body_shorter_than_its_content_length_is_refused_and_stores_nothing(server):
    """A client that sends less than its Content-Length and closes its end: gunicorn hands
    the short body on without a word (it marks its input terminated), so Amends counts it,
    a 400; the whole body then is new, so nothing was stored."""
    host, port = server.removeprefix("http://").split(":")
    body = json.dumps(design_example()).encode()
    head = (f"POST /v1/decisions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body) + 100}\r\nAuthorization: {auth()['Authorization']}"
            "\r\n\r\n").encode()
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(head + body)
        connection.shutdown(socket.SHUT_WR)
        received = b""
        while chunk := connection.recv(65536):
            received += chunk
    assert received.startswith(b"HTTP/1.1 400"), received[:300]
    assert b"ended before its Content-Length" in received
    whole = head.replace(f"Content-Length: {len(body) + 100}".encode(),
                         f"Content-Length: {len(body)}".encode()) + body
    answered, _, _ = raw_exchange(server, whole)
    assert answered == 201


def test_slow_clients_hold_a_worker_no_longer_than_the_read_timeout(tmp_path):
    """Two clients that send half a request and wait hold both sync workers only until
    AMENDS_READ_TIMEOUT_SECONDS, not until the worker timeout kills them; a body that stops
    arriving is a 400. The service answers meanwhile-queued requests in time."""
    import time

    environment = {"AMENDS_DATA_DIR": str(tmp_path), "AMENDS_DATABASE_URL": "",
                   "AMENDS_READ_TIMEOUT_SECONDS": "1.5"}
    with running_server(environment) as (base, _):
        host, port = base.removeprefix("http://").split(":")
        stalled = [socket.create_connection((host, int(port)), timeout=30) for _ in range(2)]
        for connection in stalled:
            connection.sendall(b"POST /v1/decisions HTTP/1.1\r\nHost: x\r\n")
        time.sleep(0.3)  # both workers now wait on them
        started = time.monotonic()
        with urllib.request.urlopen(f"{base}/healthz", timeout=20) as answer:
            assert answer.status == 200
        assert time.monotonic() - started < 5  # 1.5 s, not the worker timeout (30 s)
        for connection in stalled:
            assert connection.recv(100) == b""  # closed without a word
            connection.close()
        body = json.dumps(design_example()).encode()
        head = (f"POST /v1/decisions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\nAuthorization: {auth()['Authorization']}"
                "\r\n\r\n").encode()
        with socket.create_connection((host, int(port)), timeout=30) as connection:
            connection.sendall(head + body[:10])  # and the rest never comes
            received = b""
            while chunk := connection.recv(65536):
                received += chunk
        assert received.startswith(b"HTTP/1.1 400"), received[:200]
        assert b"AMENDS_READ_TIMEOUT_SECONDS" in received
        # Chunks framed with bare line feeds: gunicorn waits for a CRLF that never comes.
        # The 400 says what was wrong with them, not with a Content-Length there is none of.
        chunked = (f"POST /v1/decisions HTTP/1.1\r\nHost: x\r\nContent-Type: "
                   f"application/json\r\nTransfer-Encoding: chunked\r\nAuthorization: "
                   f"{auth()['Authorization']}\r\n\r\n2\n{{}}\n0\n\n").encode()
        with socket.create_connection((host, int(port)), timeout=30) as connection:
            connection.sendall(chunked)
            received = b""
            while chunk := connection.recv(65536):
                received += chunk
        assert received.startswith(b"HTTP/1.1 400"), received[:200]
        assert b"chunked body did not arrive whole" in received
        assert b"Content-Length" not in received.partition(b"\r\n\r\n")[2]

    # Clients answered that keep their end open are let go after gunicorn's own linger (2 s),
    # not held for what is left of the read timeout.
    environment["AMENDS_READ_TIMEOUT_SECONDS"] = "9"
    with running_server(environment) as (base, _):
        host, port = base.removeprefix("http://").split(":")
        lingering = []
        for _ in range(2):
            connection = socket.create_connection((host, int(port)), timeout=30)
            connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            received = b""
            while b"\r\n\r\n" not in received:
                chunk = connection.recv(65536)
                assert chunk, received
                received += chunk
            assert received.startswith(b"HTTP/1.1 200")  # answered; the socket stays open
            lingering.append(connection)
        started = time.monotonic()
        with urllib.request.urlopen(f"{base}/healthz", timeout=20) as answer:
            assert answer.status == 200
        assert time.monotonic() - started < 5  # 2 s at most, not 9
        for connection in lingering:
            connection.close()


def test_the_images_health_check_asks_the_port_the_service_listens_on(server):
    """The Dockerfile's HEALTHCHECK command, run as the image runs it: AMENDS_PORT names the
    port (the image's CMD passes no --port, so AMENDS_HOST and AMENDS_PORT take effect)."""
    import subprocess

    dockerfile = (Path(__file__).resolve().parents[2] / "Dockerfile").read_text()
    check = json.loads(dockerfile.split("HEALTHCHECK", 1)[1].split("CMD", 1)[1]
                       .splitlines()[0].strip())
    assert json.loads(dockerfile.rsplit("\nCMD ", 1)[1].strip()) == ["amends", "serve"]
    port = server.rsplit(":", 1)[1]
    listening = subprocess.run([sys.executable, *check[1:]], env={"AMENDS_PORT": port},
                               capture_output=True, timeout=30)
    assert listening.returncode == 0, listening.stderr
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        closed = str(unused.getsockname()[1])
    elsewhere = subprocess.run([sys.executable, *check[1:]], env={"AMENDS_PORT": closed},
                               capture_output=True, timeout=30)
    assert elsewhere.returncode != 0
