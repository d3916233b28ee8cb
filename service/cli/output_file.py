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
    folder = target.parent
    if not folder.is_dir():
        return f"there is no folder {folder}"
    if not os.access(folder, os.W_OK) or (target.exists() and not os.access(target, os.W_OK)):
        return f"{path} may not be written"
    return None
