"""Checking a file a command is asked to write before the work that fills it is done."""

from __future__ import annotations

import os
from pathlib import Path


def unwritable(path: str) -> str | None:
    """Why `path` cannot be written as a file, in words; None when it can (as far as can be
    told without writing it)."""
    target = Path(path)
    if target.is_dir():
        return f"{path} is a folder"
    if target.exists():  # written in place (a file, /dev/null): its folder does not matter
        return None if os.access(target, os.W_OK) else f"{path} may not be written"
    folder = target.parent
    if not folder.is_dir():
        return f"there is no folder {folder}"
    if not os.access(folder, os.W_OK):
        return f"no file may be made in {folder}"
    return None
