"""The peer of `bench/http.sh`: what storing an incident costs with none of the deciding.

A minimal Flask app that validates the request body with the same marshmallow schema as
Amends (`schemas.incident.IncidentSchema`), writes one row per request durably (committed
before the 201 is sent) into a table of its own, and answers with a small JSON body. It runs
under gunicorn with the settings `amends serve` uses (service.gunicorn_conf.options: same
worker count and class, preload, timeouts, keepalive, logging), without Amends' hooks.

- SQLite (default): a file in --data-dir, configured as service/store/database.py configures
  Amends' SQLite: journal_mode=WAL, synchronous=FULL, busy_timeout, and BEGIN IMMEDIATE for
  every write.
- PostgreSQL (--database-url postgresql://...): a schema of its own (--schema, created at
  start, IF NOT EXISTS), one INSERT and COMMIT per request (synchronous_commit as the server
  has it: on by default).

    .venv/bin/python bench/peer.py --port 8791 --workers 2 [--data-dir D | --database-url U]
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import sqlite3
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flask import Flask, Response, request
from marshmallow import ValidationError

from schemas.incident import IncidentSchema

TABLE = "peer_incidents"
BUSY_MS = 5000  # Amends' default database timeout (5 s)


class SqliteStore:
    def __init__(self, path: Path):
        self.path = path
        self.connection: sqlite3.Connection | None = None
        self.pid = None

    def create(self) -> None:
        connection = self._connect()
        connection.execute(f"CREATE TABLE IF NOT EXISTS {TABLE} (incident_id TEXT PRIMARY "
                           "KEY, body TEXT NOT NULL, stored_at TEXT NOT NULL)")
        connection.close()

    def _connect(self) -> sqlite3.Connection:
        connection = sqlite3.connect(self.path, timeout=BUSY_MS / 1000,
                                     isolation_level=None, check_same_thread=False)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=FULL")
        connection.execute(f"PRAGMA busy_timeout={BUSY_MS}")
        return connection

    def insert(self, incident_id: str, body: str) -> None:
        if self.pid != os.getpid():  # one connection per worker, opened after the fork
            self.connection, self.pid = self._connect(), os.getpid()
        connection = self.connection
        connection.execute("BEGIN IMMEDIATE")
        try:
            connection.execute(f"INSERT INTO {TABLE} VALUES (?, ?, ?)",
                               (incident_id, body, datetime.now(UTC).isoformat()))
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")


class PostgresStore:
    def __init__(self, url: str, schema: str):
        self.url, self.schema = url, schema
        self.connection = None
        self.pid = None

    def _connect(self):
        import psycopg

        return psycopg.connect(self.url, options=f"-csearch_path={self.schema}")

    def create(self) -> None:
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as connection:
            connection.execute(f"CREATE SCHEMA IF NOT EXISTS {self.schema}")
            connection.execute(f"CREATE TABLE IF NOT EXISTS {self.schema}.{TABLE} (incident_id "
                               "TEXT PRIMARY KEY, body JSONB NOT NULL, stored_at TIMESTAMPTZ "
                               "NOT NULL)")

    def insert(self, incident_id: str, body: str) -> None:
        if self.pid != os.getpid():
            self.connection, self.pid = self._connect(), os.getpid()
        connection = self.connection
        try:
            connection.execute(f"INSERT INTO {TABLE} VALUES (%s, %s, %s)",
                               (incident_id, body, datetime.now(UTC)))
            connection.commit()
        except BaseException:
            connection.rollback()
            raise


def create_peer(store) -> Flask:
    app = Flask("amends-peer")
    schema = IncidentSchema()

    @app.post("/v1/incidents")
    def store_incident():
        payload = request.get_json(silent=True)
        if not isinstance(payload, dict):
            return _json({"error": "The body must be a JSON object."}, 400)
        try:
            incident = schema.load(payload)
        except ValidationError as error:
            return _json({"errors": error.messages}, 422)
        started = time.perf_counter()
        store.insert(incident.incident_id, request.get_data(as_text=True))
        return _json({"incident_id": incident.incident_id, "stored": True,
                      "store_ms": round((time.perf_counter() - started) * 1000, 3)}, 201)

    @app.get("/healthz")
    def healthz():
        return _json({"status": "ok"}, 200)

    return app


def _json(body: dict, status: int) -> Response:
    return Response(json.dumps(body), status=status, mimetype="application/json")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8791)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--data-dir", default=None, help="SQLite: folder of peer.sqlite3")
    parser.add_argument("--database-url", default=None, help="postgresql://... instead")
    parser.add_argument("--schema", default=f"amends_peer_{os.getpid()}")
    args = parser.parse_args()

    from gunicorn.app.base import BaseApplication

    from service.config import Settings
    from service.gunicorn_conf import options

    if args.database_url:
        store = PostgresStore(args.database_url, args.schema)
    else:
        folder = Path(args.data_dir or ".")
        folder.mkdir(parents=True, exist_ok=True)
        store = SqliteStore(folder / "peer.sqlite3")
    store.create()
    app = create_peer(store)
    settings = Settings(host=args.host, port=args.port, workers=args.workers)
    config = {name: value for name, value in options(settings).items()  # Amends' hooks: none
              if not (inspect.isfunction(value)
                      and value.__module__ == "service.gunicorn_conf")}

    class Gunicorn(BaseApplication):
        def load_config(self):
            for name, value in config.items():
                self.cfg.set(name, value)

        def load(self):
            return app

    Gunicorn().run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
