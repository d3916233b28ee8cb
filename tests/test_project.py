"""The project's own promises: lint-clean, layers kept, a linted Dockerfile, README commands
that CI runs."""

import os
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def test_ruff_is_clean():
    run = subprocess.run([str(BIN / "ruff"), "check", str(ROOT)], capture_output=True,
                         text=True)
    assert run.returncode == 0, run.stdout


def test_the_layer_contracts_hold():
    run = subprocess.run([str(BIN / "lint-imports"), "--no-cache", "--no-logo"], cwd=ROOT,
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr


def test_the_web_contract_names_every_module_but_web_and_the_entry_points():
    """A module added beside the layers must be placed in the contract, not slip past it."""
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"][
        "contracts"]
    web = next(c for c in contracts if c["id"] == "web-only-under-entry-points")
    ours = {f"service.{path.stem}" for path in (ROOT / "service").iterdir()
            if path.name != "__init__.py" and (path.suffix == ".py"
                                               or (path / "__init__.py").exists())}
    entry_points = {"service.cli", "service.wsgi", "service.gunicorn_conf",
                    "service.gunicorn_worker"}
    assert set(web["source_modules"]) == ours - entry_points - {"service.web"} | {"schemas"}


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


def test_the_benchmark_experiments_still_apply():
    """bench/*.patch (the stages of a decision, the group-commit prototype) are applied to a
    scratch worktree of HEAD by their scripts: they must still apply to HEAD (checked
    against HEAD's tree in an index of the test's own, whatever the checkout holds)."""
    patches = sorted((ROOT / "bench").glob("*.patch"))
    assert patches
    with tempfile.TemporaryDirectory() as scratch:
        index = {**os.environ, "GIT_INDEX_FILE": str(Path(scratch) / "index")}
        subprocess.run(["git", "read-tree", "HEAD"], cwd=ROOT, env=index, check=True)
        for patch in patches:
            run = subprocess.run(["git", "apply", "--cached", "--check", str(patch)],
                                 cwd=ROOT, env=index, capture_output=True, text=True)
            assert run.returncode == 0, f"{patch.name}: {run.stderr}"
