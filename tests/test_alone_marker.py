"""The suite runs in several processes, and a test marked `alone` runs while no other test
does (tests/support/alone.py): a small suite of sleeping tests, run the way `./dev test`
runs, with the project's hooks, records when each test ran."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow  # starts a pytest with worker processes of its own

SUITE = """
import json, os, time

import pytest


def ran(name, seconds=0.6):
    start = time.monotonic()
    time.sleep(seconds)
    with open(os.environ["RAN"], "a") as out:
        out.write(json.dumps([name, start, time.monotonic()]) + "\\n")


@pytest.mark.parametrize("number", range(6))
def test_beside_others(number):
    ran(f"beside-{number}")


@pytest.mark.alone
def test_by_itself():
    ran("alone")


@pytest.mark.alone
def test_by_itself_too():
    ran("alone-too")
"""


def test_alone_tests_run_by_themselves_and_the_others_side_by_side(tmp_path):
    (tmp_path / "test_sleeping.py").write_text(textwrap.dedent(SUITE))
    (tmp_path / "conftest.py").write_text(  # the project's hooks
        "from tests.conftest import pytest_configure, pytest_runtest_protocol  # noqa: F401\n")
    record = tmp_path / "ran.jsonl"
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:anyio",
         "-p", "no:schemathesis", "-n", "2", "--dist", "worksteal", "test_sleeping.py"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
        env={**{name: value for name, value in os.environ.items()
                if name != "AMENDS_TEST_LOCKS"},  # this run's locks, which this test holds
             "RAN": str(record), "PYTHONPATH": str(ROOT)})
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    spans = {name: (start, end) for name, start, end in
             map(json.loads, record.read_text().splitlines())}
    assert len(spans) == 8, spans

    def overlap(a, b):
        return spans[a][0] < spans[b][1] and spans[b][0] < spans[a][1]

    for lone in ("alone", "alone-too"):
        beside = [name for name in spans if name != lone and overlap(lone, name)]
        assert not beside, f"{lone} ran beside {beside}"
    others = [name for name in spans if name.startswith("beside")]
    assert any(overlap(a, b) for a in others for b in others if a < b), \
        "the other tests never ran side by side: the run was not in two processes"
