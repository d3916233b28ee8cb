"""What-if replay throughput: stored decisions per second through a candidate policy.

Fills a temporary SQLite database with N stored decisions (random incidents of the shipped
vocabulary, every role, repeat customers, some with grants made before; decided by the
shipped policy and inserted through the store, a few thousand per transaction, their
moments spread over 90 days), then measures, in one run:

- the bare decide loop (parse each request and decide it, from memory: no store) on a
  subset, the baseline;
- reading alone (the store's batches, decoded, nothing decided) over all N;
- the replay of all N against the shipped policy itself (nothing changes) and against a
  copy with one rule changed (discount-minor 10% -> 15%), each with its ratio to the
  baseline;

and prints decisions per second and the time for 100,000 stored decisions (measured when
N is 100,000, the default; projected from N otherwise, and said so). Figures only, no
timed assertions.

    .venv/bin/python bench/replay.py [--decisions N] [--baseline N]
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from big_policies import random_incident

from service.app.active_policy import ActivePolicy
from service.app.intake import parse_incident
from service.app.replay import candidate_folder, replay
from service.config import shipped_policy
from service.domain.incident import History
from service.domain.principal import Principal
from service.domain.running_totals import GrantedSoFar
from service.store import clock, fingerprints, keyset
from service.store.database import Store, upgrade
from service.store.unit_of_work import UnitOfWork

ROLES = ["agent", "agent", "agent", "team_lead", "supervisor", "manager"]
PER_TRANSACTION = 2000
PROJECTED_FOR = 100_000


def granted_before(rng: random.Random, currency: str) -> GrantedSoFar:
    """Some earlier grants, as a stored decision remembers them (one in five decisions)."""
    if rng.random() >= 0.2:
        return GrantedSoFar()
    today = Decimal(rng.randrange(0, 400))
    return GrantedSoFar(agent_today={currency: today},
                        order={currency: Decimal(rng.randrange(0, 60))},
                        customer_window={currency: today + rng.randrange(0, 100)},
                        customer_grants_in_window=rng.randrange(0, 5))


def fill(store: Store, active: ActivePolicy, count: int) -> list[tuple[dict, str, History]]:
    """`count` decisions stored through the store; the requests, roles and histories of
    them all (for the baseline)."""
    rng = random.Random(2026)
    now = clock.now()
    step = timedelta(days=90) / max(count, 1)
    made = []
    for start in range(0, count, PER_TRANSACTION):
        with UnitOfWork(store) as uow:
            for number in range(start, min(count, start + PER_TRANSACTION)):
                body = random_incident(rng, number)
                incident = parse_incident(body, active.policy)
                role = rng.choice(ROLES)
                history = History(rng.choice([0, 0, 1, 2]),
                                  granted_before(rng, incident.order.currency))
                decision = active.decide(incident, role, history)
                uow.deciding.add(decision, incident, Principal(f"bench-{number % 40}", role),
                                  body, fingerprints.of_incident(body),
                                  now - step * (count - number))
                made.append((body, role, history))
    return made


def bare_decide(active: ActivePolicy, made: list[tuple[dict, str, History]]) -> float:
    """Decisions per second of parse + decide from memory, no store."""
    started = time.perf_counter()
    for body, role, history in made:
        active.decide(parse_incident(body, active.policy), role, history)
    return len(made) / (time.perf_counter() - started)


def read_only(store: Store) -> tuple[int, float]:
    """Every stored decision read and decoded as a replay reads them, nothing decided."""
    started = time.perf_counter()
    position: keyset.Position = keyset.START
    read = 0
    while position is not keyset.ENDED:
        with UnitOfWork(store) as uow:
            ids, position = uow.replay.keys(None, None, position, 50_000)
        for at in range(0, len(ids), 500):
            with UnitOfWork(store) as uow:
                batch = uow.replay.decisions(ids[at:at + 500])
            read += sum(1 for _ in batch)
    return read, time.perf_counter() - started


def one_rule_changed(folder: Path) -> Path:
    shutil.copytree(shipped_policy(), folder)
    path = folder / "remedies.yaml"
    text = path.read_text()
    marker = "  - id: discount-minor\n"
    head, rule = text.split(marker, 1)
    path.write_text(head + marker + rule.replace("percent: 10", "percent: 15", 1))
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--decisions", type=int, default=PROJECTED_FOR,
                        help=f"stored decisions to replay (default {PROJECTED_FOR:,})")
    parser.add_argument("--baseline", type=int, default=20_000,
                        help="decisions of the bare decide loop (default 20,000)")
    args = parser.parse_args()
    active = ActivePolicy.load(shipped_policy())
    with tempfile.TemporaryDirectory(prefix="amends-bench-replay-") as scratch:
        url = f"sqlite:///{scratch}/amends.db"
        upgrade(url)
        store = Store(url)
        started = time.perf_counter()
        made = fill(store, active, args.decisions)
        print(f"stored {args.decisions:,} decisions in {time.perf_counter() - started:.1f} s "
              f"(SQLite, {PER_TRANSACTION:,} per transaction)", flush=True)
        baseline = bare_decide(active, made[:args.baseline])
        del made
        read, read_seconds = read_only(store)
        runs = [("itself", active)]
        candidate = candidate_folder(one_rule_changed(Path(scratch) / "candidate"))
        runs.append(("discount-minor 15%", candidate.active))
        results = []
        for label, policy in runs:
            result = replay(store, policy)
            assert result.tally.read == args.decisions and result.complete
            results.append((label, result))
        candidate.close()
        store.engine.dispose()
    print(f"{'what':<34}{'decisions':>10}{'seconds':>9}{'per second':>12}{'vs bare':>9}"
          f"{'changed':>9}")
    print(f"{'bare decide loop (no store)':<34}{min(args.baseline, args.decisions):>10,}"
          f"{'':>9}{baseline:>12,.0f}{1:>9.2f}")
    print(f"{'reads only (batches, decoded)':<34}{read:>10,}{read_seconds:>9.1f}"
          f"{read / read_seconds:>12,.0f}")
    for label, result in results:
        rate = result.tally.read / result.seconds
        print(f"{'replay against ' + label:<34}{result.tally.read:>10,}{result.seconds:>9.1f}"
              f"{rate:>12,.0f}{rate / baseline:>9.2f}{result.tally.changed:>9,}")
    for label, result in results:
        per_hundred_thousand = result.seconds * PROJECTED_FOR / result.tally.read
        how = "measured" if result.tally.read == PROJECTED_FOR else (
            f"projected from {result.tally.read:,}")
        print(f"time for {PROJECTED_FOR:,} stored decisions, against {label}: "
              f"{per_hundred_thousand:.1f} s ({how})")


if __name__ == "__main__":
    sys.exit(main())
