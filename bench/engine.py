"""Per-decision latency through the engine adapter, against the reference evaluator.

For the shipped policy and generated policies of 10, 100, 1,000, 3,000 and 10,000 rules: the
median and p99 of a whole decision (`decide`) with rules fired by durable_rules through the
adapter, the same with the plain-Python reference evaluator, and their ratio, measured in one
run. For each generated policy also the cost of loading it, each in a fresh process: the wall
time to read and check it (`read_policy`) and to compile it (`RuleProgram`), and the growth of
the process's peak resident memory (ru_maxrss) over both.
Targets: p99 <= 1 ms on the shipped policy, <= 10 ms at 3,000 rules, <= 3 ms at 10,000 rules.

    .venv/bin/python bench/engine.py [--decisions N] [--sizes 10,100,1000,3000,10000]
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import statistics
import subprocess
import sys
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


def load_cost(directory: Path) -> dict:
    """Read, check and compile the policy in a fresh process (imports done first): seconds
    for each step and the growth of its peak RSS in MiB (VmHWM of /proc/self/status: unlike
    ru_maxrss, which a child inherits from the process that forked it, it starts afresh at
    exec)."""
    out = subprocess.run([sys.executable, __file__, "--load-cost", str(directory)],
                         check=True, capture_output=True, text=True, timeout=600).stdout
    return json.loads(out.splitlines()[-1])


def _load_cost_here(directory: str) -> None:
    from service.app.active_policy import read_policy

    peak0 = _vm_kib("VmHWM")
    start = time.perf_counter()
    policy = read_policy(directory)
    read = time.perf_counter()
    program = RuleProgram(policy)
    compiled = time.perf_counter()
    peak1 = _vm_kib("VmHWM")
    print(json.dumps({"read_s": read - start, "compile_s": compiled - read,
                      "peak_rss_growth_mib": (peak1 - peak0) / 1024,
                      "peak_rss_mib": peak1 / 1024,
                      "engine_rules": program.engine_rule_count}))


def _vm_kib(name: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(name + ":"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # not Linux: an upper bound


def _fact(policy, incident):
    from service.domain.fields import flat_fact

    return flat_fact(incident, incident.customer.prior_failures or 0, policy.fields)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--decisions", type=int, default=3000)
    parser.add_argument("--sizes", default="10,100,1000,3000,10000",
                        help="rule counts of the generated policies (comma-separated)")
    parser.add_argument("--load-cost", metavar="DIR", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.load_cost:
        _load_cost_here(args.load_cost)
        return
    sizes = [int(size) for size in args.sizes.split(",") if size]
    started = time.strftime("%H:%M:%S %Z")
    rows = [measure("shipped", shipped_policy(), args.decisions)]
    loads = []
    with tempfile.TemporaryDirectory() as scratch:
        for count in sizes:
            directory = write_generated_policy(Path(scratch) / f"g{count}", count)
            loads.append((count, load_cost(directory)))
            rows.append(measure(f"generated-{count}", directory,
                                args.decisions if count < 1000 else args.decisions // 3))
        if 10000 in sizes:  # the same size, narrow rules: ~36 fire per decision, not ~390
            directory = write_generated_policy(Path(scratch) / "s10000", 10000,
                                               selective=True)
            loads.append(("10000-selective", load_cost(directory)))
            rows.append(measure("selective-10000", directory, args.decisions // 3))
    print(f"started {started}; {args.decisions} decisions per policy "
          f"({args.decisions // 3} from 1,000 rules on)")
    print(f"{'policy':<16}{'rules':>6}{'sets':>5}{'fired':>7}  {'engine p50':>10}"
          f"{'p99 ms':>8}  {'reference p50':>13}{'p99 ms':>8}  {'p50 ratio':>9}")
    for row in rows:
        print(f"{row['policy']:<16}{row['rules']:>6}{row['rulesets']:>5}{row['fired']:>7.1f}  "
              f"{row['engine_p50']:>10.3f}{row['engine_p99']:>8.3f}  "
              f"{row['reference_p50']:>13.3f}{row['reference_p99']:>8.3f}  "
              f"{row['engine_p50'] / row['reference_p50']:>9.2f}")
    print(f"\n{'load (fresh process)':<22}{'read+check s':>13}{'compile s':>10}{'total s':>9}"
          f"{'engine rules':>13}{'peak RSS +MiB':>15}")
    for count, cost in loads:
        print(f"{'generated-' + str(count):<22}{cost['read_s']:>13.2f}{cost['compile_s']:>10.2f}"
              f"{cost['read_s'] + cost['compile_s']:>9.2f}{cost['engine_rules']:>13}"
              f"{cost['peak_rss_growth_mib']:>15.1f}")
    print()
    by_rules = {row["rules"]: row for row in rows[1:] if row["policy"].startswith("generated")}
    shipped = rows[0]
    print(f"target shipped p99 <= 1 ms: {shipped['engine_p99']:.3f} ms "
          f"{'met' if shipped['engine_p99'] <= 1 else 'MISSED'}")
    for count, limit in ((3000, 10), (10000, 3)):
        if count in by_rules:
            p99_ms = by_rules[count]["engine_p99"]
            print(f"target {count:,} rules p99 <= {limit} ms: {p99_ms:.3f} ms "
                  f"{'met' if p99_ms <= limit else 'MISSED'}")
    for row in rows:
        if row["policy"] == "selective-10000":
            print(f"target 10,000 narrow rules p99 <= 3 ms: {row['engine_p99']:.3f} ms "
                  f"{'met' if row['engine_p99'] <= 3 else 'MISSED'}")


if __name__ == "__main__":
    main()
