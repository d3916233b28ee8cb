"""Copies of the shipped policy folder that a test may edit."""

import shutil
from pathlib import Path

from service.config import shipped_policy


def copy_policy(target: Path) -> Path:
    shutil.copytree(shipped_policy(), target)
    return target


def write_policy(folder: Path, **files: str) -> Path:
    """A policy folder of these files (`policy_yaml="..."` is policy.yaml), and no test cases
    unless a tests.yaml is given."""
    folder.mkdir(parents=True)
    files.setdefault("tests_yaml", "tests: []\n")
    for name, text in files.items():
        (folder / name.replace("_yaml", ".yaml")).write_text(text)
    return folder


def edit(directory: Path, name: str, old: str, new: str) -> None:
    """Replace the first `old` in one file; `old` must be there."""
    path = directory / name
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def rewrite(directory: Path, change) -> None:
    """Every YAML file of the folder rewritten through `change(document)`."""
    import yaml

    for path in directory.glob("*.yaml"):
        path.write_text(yaml.safe_dump(change(yaml.safe_load(path.read_text())),
                                       sort_keys=False, allow_unicode=True))


def renamed_role(node, old: str = "team_lead", new: str = "shift_lead"):
    """A document with role `old` called `new` everywhere (a `rewrite` change)."""
    if isinstance(node, dict):
        return {(new if key == old else key): renamed_role(value, old, new)
                for key, value in node.items()}
    if isinstance(node, list):
        return [renamed_role(value, old, new) for value in node]
    return new if node == old else node


def without_gbp(node):
    """A document with no GBP anywhere: not a currency, no amounts, no exchange rates, no test
    cases in it (a `rewrite` change; the shipped policy stays valid)."""
    if isinstance(node, dict):
        return {key: without_gbp(value) for key, value in node.items() if key != "GBP"}
    if isinstance(node, list):
        return [without_gbp(value) for value in node if value != "GBP" and not (
            isinstance(value, dict) and isinstance(value.get("incident"), dict)
            and value["incident"].get("order", {}).get("currency") == "GBP")]
    return node


def retiring_gbp(node):
    """`without_gbp`, but keeping the rates from GBP into the other currencies, for the
    grants made in GBP earlier (a `rewrite` change)."""
    rates = node.get("exchange_rates", {}).get("rates") if isinstance(node, dict) else None
    kept = {into: table["GBP"] for into, table in (rates or {}).items()
            if into != "GBP" and "GBP" in table}
    changed = without_gbp(node)
    for into, rate in kept.items():
        changed["exchange_rates"]["rates"][into]["GBP"] = rate
    return changed
