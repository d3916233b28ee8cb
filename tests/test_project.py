"""The project's own promises: lint-clean, a linted Dockerfile, README commands that CI runs."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def test_ruff_is_clean():
    run = subprocess.run([str(BIN / "ruff"), "check", str(ROOT)], capture_output=True,
                         text=True)
    assert run.returncode == 0, run.stdout


def test_dockerfile_passes_hadolint():
    run = subprocess.run([str(BIN / "hadolint"), str(ROOT / "Dockerfile")],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "HEALTHCHECK" in dockerfile and "USER 10001" in dockerfile
    assert "slim" in dockerfile.splitlines()[1]


def test_readme_starts_with_the_two_commands_and_ci_runs_the_test_one():
    first_lines = (ROOT / "README.md").read_text().splitlines()[:6]
    assert any(line.startswith("./dev serve") for line in first_lines)
    test_command = next(line.split("#")[0].strip() for line in first_lines
                        if line.startswith("./dev test"))
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert ci[-1].strip() == test_command


def test_dev_keys_are_marked_local_only():
    keys = (ROOT / "config" / "dev-api-keys.yaml").read_text()
    assert keys.startswith("# DEVELOPMENT KEYS FOR LOCAL USE ONLY")
    assert "local use only" in (ROOT / "README.md").read_text()
