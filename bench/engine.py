"""Per-decision latency through the engine adapter, against the reference evaluator.

For the shipped policy and generated policies of 10, 100, 1,000 and 3,000 rules: the median
and p99 of a whole decision (`decide`) with rules fired by durable_rules through the adapter,
the same with the plain-Python reference evaluator, and their ratio, measured in one run.
Targets: p99 <= 1 ms on the shipped policy, <= 10 ms at 3,000 rules.

    .venv/bin/python bench/engine.py [--decisions N]
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path

from big_policies import random_incident, write_generated_policy

from service.app.intake import parse_incident
from service.config import shipped_policy
from service.domain.decision import decide
from service.domain.incident import History
from service.engine.adapter import RuleProgram
from service.policy.conditions import fired_by_reference
from service.policy.loader import load_policy


def timings(function, incidents, policy, repeat_warmup=50) -> list[float]:
    for incident in incidents[:repeat_warmup]:
        decide(incident, History(), policy, "agent", function)
    samples = []
    for incident in incidents:
        start = time.perf_counter_ns()
        decide(incident, History(), policy, "agent", function)
        samples.append((time.perf_counter_ns() - start) / 1e6)
    return samples


def p99(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=100)[98]


def measure(label: str, directory: Path, decisions: int) -> dict:
    policy = load_policy(directory)
    program = RuleProgram(policy)
    rng = random.Random(11)
    incidents = [parse_incident(random_incident(rng, n), policy) for n in range(decisions)]
    fired = [len(program.fired(_fact(policy, i))) for i in incidents[:200]]

    def reference(fact):
        return fired_by_reference(policy.rules, fact)

    engine = timings(program.fired, incidents, policy)
    plain = timings(reference, incidents, policy)
    program.close()
    return {"policy": label, "rules": len(policy.rules), "rulesets": len(program.plans),
            "fired": statistics.mean(fired),
            "engine_p50": statistics.median(engine), "engine_p99": p99(engine),
            "reference_p50": statistics.median(plain), "reference_p99": p99(plain)}


def _fact(policy, incident):
    from service.domain.fields import flat_fact

    return flat_fact(incident, incident.customer.prior_failures or 0, policy.fields)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--decisions", type=int, default=3000)
    args = parser.parse_args()
    rows = [measure("shipped", shipped_policy(), args.decisions)]
    with tempfile.TemporaryDirectory() as scratch:
        for count in (10, 100, 1000, 3000):
            directory = write_generated_policy(Path(scratch) / f"g{count}", count)
            rows.append(measure(f"generated-{count}", directory,
                                args.decisions if count < 1000 else args.decisions // 3))
    print(f"{'policy':<16}{'rules':>6}{'sets':>5}{'fired':>7}  {'engine p50':>10}"
          f"{'p99 ms':>8}  {'reference p50':>13}{'p99 ms':>8}  {'p50 ratio':>9}")
    for row in rows:
        print(f"{row['policy']:<16}{row['rules']:>6}{row['rulesets']:>5}{row['fired']:>7.1f}  "
              f"{row['engine_p50']:>10.3f}{row['engine_p99']:>8.3f}  "
              f"{row['reference_p50']:>13.3f}{row['reference_p99']:>8.3f}  "
              f"{row['engine_p50'] / row['reference_p50']:>9.2f}")
    shipped, largest = rows[0], rows[-1]
    print(f"target shipped p99 <= 1 ms: {shipped['engine_p99']:.3f} ms "
          f"{'met' if shipped['engine_p99'] <= 1 else 'MISSED'}")
    print(f"target 3,000 rules p99 <= 10 ms: {largest['engine_p99']:.3f} ms "
          f"{'met' if largest['engine_p99'] <= 10 else 'MISSED'}")


if __name__ == "__main__":
    main()
