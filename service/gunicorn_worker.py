"""gunicorn's sync worker, answering what gunicorn itself refuses before Amends sees the
request (a request line over 4,094 bytes, a header it cannot read, a bad chunk) as
`application/problem+json`, like every other error, instead of gunicorn's HTML page. The
wording and status are gunicorn's, except that its limits are always 414 and 431, a transfer
coding it does not know is a 400 (its 501: bad input is never a 5xx here), and the title is
the status's own name."""

from __future__ import annotations

import json
import socket
import time
from http import HTTPStatus

from gunicorn import util
from gunicorn.http.errors import LimitRequestHeaders, LimitRequestLine, NoMoreData
from gunicorn.workers.sync import SyncWorker

from service.web.access_log import without_credentials
from service.web.errors import PROBLEM_JSON

# The status of a limit, whatever gunicorn's version answers (some answer 400 for both).
_LIMITS = ((LimitRequestLine, 414, "URI Too Long"),
           (LimitRequestHeaders, 431, "Request Header Fields Too Large"))

_PHRASES = {status.value: status.phrase for status in HTTPStatus}

# What a refused request may be told to do about it, by status.
_ADVICE = {
    414: " Shorten the URL: a page cursor or query that long is not one Amends gave.",
    431: " Send fewer or shorter headers.",
}


def write_problem(sock, status: int, reason: str, message: str) -> None:
    """gunicorn's util.write_error, as a problem document: the connection then closes."""
    detail = without_credentials(message or reason) + _ADVICE.get(status, "")
    body = json.dumps({"type": "about:blank", "title": reason, "status": status,
                       "detail": detail}).encode()
    head = (f"HTTP/1.1 {status} {reason}\r\nConnection: close\r\n"
            f"Content-Type: {PROBLEM_JSON}\r\nContent-Length: {len(body)}\r\n"
            "Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n\r\n")
    util.write_nonblock(sock, head.encode("latin-1") + body)


class TooSlow(NoMoreData):
    """The request did not arrive within the read timeout. As gunicorn's NoMoreData, its
    head cut short is a premature disconnection (closed quietly); as an OSError, its body cut
    short is a 400 (service.web.requests.whole_body)."""

    def __str__(self) -> str:
        return "the request did not arrive within AMENDS_READ_TIMEOUT_SECONDS"


class ReadDeadline:
    """A client's socket whose reads all end by one deadline: a client that sends its
    request slowly (or not at all) holds a sync worker that long at most, not until the
    worker timeout kills it; past it, only bytes already arrived are read. Everything else
    is the socket's own."""

    def __init__(self, sock, seconds: float):
        self._sock = sock
        self._deadline = time.monotonic() + seconds

    def recv(self, size: int, *flags) -> bytes:
        left = self._deadline - time.monotonic()
        if left <= 0:
            # What has arrived is read, whatever the time: the server may have spent it (a
            # worker loading a new policy version before it reads the body), not the client.
            try:
                return self._sock.recv(size, (flags[0] if flags else 0) | socket.MSG_DONTWAIT)
            except (BlockingIOError, InterruptedError):
                raise TooSlow() from None
        before = self._sock.gettimeout()  # gunicorn's own, such as close_graceful's 2 s
        binding = before is None or left < before
        self._sock.settimeout(left if binding else before)
        try:
            return self._sock.recv(size, *flags)
        except TimeoutError:
            if binding:
                raise TooSlow() from None
            raise
        finally:  # as it was: the answer is written without this deadline
            self._sock.settimeout(before)

    def __getattr__(self, name: str):
        return getattr(self._sock, name)


class ProblemSyncWorker(SyncWorker):
    """gunicorn's sync worker, whose own error answers are problem documents, which gives
    each request `AMENDS_READ_TIMEOUT_SECONDS` to arrive (ReadDeadline), and which finishes
    the request in hand on SIGINT and SIGQUIT as on SIGTERM."""

    read_timeout_seconds = 10.0  # replaced from Settings by service.gunicorn_conf

    def handle(self, listener, client, addr) -> None:
        super().handle(listener, ReadDeadline(client, self.read_timeout_seconds), addr)

    def handle_quit(self, sig, frame) -> None:
        """SIGINT or SIGQUIT (the master's quick shutdown, Ctrl-C): gunicorn's worker raises
        SystemExit inside the request in hand, which the sync worker answers with a 500
        even when the decision was stored. Here the request finishes and is answered, as on
        SIGTERM; the worker then exits. The master still kills a worker that has not exited
        within graceful_timeout."""
        self.alive = False
        self.cfg.worker_int(self)

    def handle_error(self, req, client, addr, exc) -> None:
        # gunicorn words the error and calls util.write_error: a worker handles one request
        # at a time, so the writer is swapped for this call only.
        limit = next(((status, reason) for kind, status, reason in _LIMITS
                      if isinstance(exc, kind)), None)

        def write(sock, status: int, reason: str, message: str) -> None:
            if limit is not None:
                status, reason = limit
            if status == 501:  # a transfer coding it does not know: the client's to change,
                status = 400   # and bad input is never a 5xx here
                message = f"{message}. Send the body as it is, or chunked."
            if status in _PHRASES:  # gunicorn names some statuses by another (501 "Bad Request")
                reason = _PHRASES[status]
            write_problem(sock, status, reason, message)

        write_error, util.write_error = util.write_error, write
        try:
            super().handle_error(req, client, addr, exc)
        finally:
            util.write_error = write_error
