"""Soak: steady decisions and grants against `amends serve` for a while (5 minutes by
default); prints, per minute, requests, p50/p99 latency and the workers' memory, so that
"flat" can be read off. Usage: .venv/bin/python bench/soak.py [--minutes 5] [--database URL]
"""

from __future__ import annotations

import argparse
import threading
import time

from load import call, incident, percentile, rss_mib, start, workers_of

PORT = 8871


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=5)
    parser.add_argument("--clients", type=int, default=3)
    parser.add_argument("--database", help="AMENDS_DATABASE_URL (default: SQLite)")
    args = parser.parse_args()
    environment = {"AMENDS_DATABASE_URL": args.database} if args.database else {}
    process = start(PORT, environment)
    base = f"http://127.0.0.1:{PORT}"
    samples: list[tuple[float, float, int]] = []  # (time, seconds, status)
    stop = threading.Event()

    def client() -> None:
        while not stop.is_set():
            began = time.monotonic()
            status, decision = call(base, "/v1/decisions", incident())
            samples.append((began, time.monotonic() - began, status))
            if status == 201:
                waived = next(o for o in decision["offers"] if o["remedy"] == "waived_shipping")
                began = time.monotonic()
                # The manager has no daily budget in the shipped roles: grants keep flowing.
                status, _ = call(base, f"/v1/offers/{waived['id']}/grant", {}, "manager")
                samples.append((began, time.monotonic() - began, status))

    threads = [threading.Thread(target=client, daemon=True) for _ in range(args.clients)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    print(f"{'minute':>6} {'requests':>9} {'failed':>7} {'p50 ms':>8} {'p99 ms':>8} "
          f"{'workers MiB':>12}")
    rows = []
    try:
        for minute in range(1, int(args.minutes) + 1):
            time.sleep(max(0.0, started + minute * 60 - time.monotonic()))
            window = [s for s in samples if started + (minute - 1) * 60 <= s[0]
                      < started + minute * 60]
            seconds = [s[1] * 1000 for s in window]
            failed = sum(1 for s in window if s[2] >= 500)
            memory = rss_mib(workers_of(process.pid))
            rows.append((len(window), percentile(seconds, 50), percentile(seconds, 99), memory))
            print(f"{minute:>6} {len(window):>9} {failed:>7} {rows[-1][1]:>8.1f} "
                  f"{rows[-1][2]:>8.1f} {memory:>12.1f}", flush=True)
    finally:
        stop.set()
        for thread in threads:  # each finishes the request it is in before the server stops
            thread.join(timeout=30)
        process.terminate()
        process.wait(timeout=30)
    first, last = rows[0], rows[-1]
    print(f"memory {first[3]:.1f} -> {last[3]:.1f} MiB ({last[3] - first[3]:+.1f}); "
          f"p99 {first[2]:.1f} -> {last[2]:.1f} ms; failed requests "
          f"{sum(1 for s in samples if s[2] >= 500)} of {len(samples)} (5xx); "
          f"refused {sum(1 for s in samples if 400 <= s[2] < 500)}")


if __name__ == "__main__":
    main()
