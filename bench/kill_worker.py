"""SIGKILL one gunicorn worker under load: the master replaces it, clients lose at most the
requests that worker was serving, and nothing stored is lost or duplicated.

Usage: .venv/bin/python bench/kill_worker.py [--seconds 30] [--database URL]
"""

from __future__ import annotations

import argparse
import os
import signal
import threading
import time

from load import call, incident, start, workers_of
from sqlalchemy import func, select

from service.config import Settings
from service.store.database import Store
from service.store.models import DecisionRow, GrantRow

PORT = 8872


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--database", help="AMENDS_DATABASE_URL (default: SQLite)")
    args = parser.parse_args()
    environment = {"AMENDS_DATABASE_URL": args.database} if args.database else {}
    process = start(PORT, environment, workers=2)
    if not args.database:
        os.environ["AMENDS_DATA_DIR"] = process.data_dir
    url = args.database or Settings.from_environment().database_url
    base = f"http://127.0.0.1:{PORT}"
    decided, granted, failures, refusals = {}, {}, [], []
    stop = threading.Event()

    def client() -> None:
        while not stop.is_set():
            body = incident()
            try:
                status, decision = call(base, "/v1/decisions", body, "team_lead", timeout=10)
            except OSError as error:
                failures.append(repr(error))
                continue
            if status != 201:
                failures.append(status)
                continue
            decided[decision["decision_id"]] = body["incident_id"]
            waived = next(o for o in decision["offers"] if o["remedy"] == "waived_shipping")
            try:
                status, answer = call(base, f"/v1/offers/{waived['id']}/grant", {},
                                      "team_lead", timeout=10)
            except OSError as error:
                failures.append(repr(error))
                continue
            if status == 201:
                granted[waived["id"]] = answer["grant"]["id"]
            elif status < 500:
                refusals.append(status)  # a budget or cap doing its job, not a failure
            else:
                failures.append(status)

    threads = [threading.Thread(target=client) for _ in range(args.clients)]
    for thread in threads:
        thread.start()
    time.sleep(args.seconds / 3)
    before = workers_of(process.pid)
    victim = before[0]
    os.kill(victim, signal.SIGKILL)
    killed_at = time.monotonic()
    while True:
        now = workers_of(process.pid)
        if len(now) == len(before) and victim not in now:
            break
        time.sleep(0.05)
    replaced_after = time.monotonic() - killed_at
    time.sleep(args.seconds * 2 / 3)
    stop.set()
    for thread in threads:
        thread.join()
    process.terminate()
    process.wait(timeout=30)

    store = Store(url)
    with store.transaction() as session:
        stored_decisions = set(session.scalars(select(DecisionRow.id)))
        grants = session.execute(select(GrantRow.offer_id, GrantRow.id)).all()
        per_offer = session.execute(select(GrantRow.offer_id, func.count()).group_by(
            GrantRow.offer_id).having(func.count() > 1)).all()
    lost_decisions = set(decided) - stored_decisions
    stored_grants = dict(grants)
    lost_grants = [o for o, g in granted.items() if stored_grants.get(o) != g]
    print(f"killed worker {victim}; the master replaced it in {replaced_after:.2f} s")
    print(f"acknowledged: {len(decided)} decisions, {len(granted)} grants "
          f"({len(refusals)} grants refused by running totals); failed requests: "
          f"{len(failures)} ({', '.join(map(str, failures[:4])) or 'none'})")
    print(f"lost: {len(lost_decisions)} decisions, {len(lost_grants)} grants; offers granted "
          f"twice: {len(per_offer)}")


if __name__ == "__main__":
    main()
