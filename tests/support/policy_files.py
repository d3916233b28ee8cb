"""Copies of the shipped policy folder that a test may edit."""

import shutil
from pathlib import Path

from service.config import shipped_policy


def copy_policy(target: Path) -> Path:
    shutil.copytree(shipped_policy(), target)
    return target


def edit(directory: Path, name: str, old: str, new: str) -> None:
    """Replace the first `old` in one file; `old` must be there."""
    path = directory / name
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
