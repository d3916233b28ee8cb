"""An embedded database of its own for each command-line test."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.cli import main


@pytest.fixture
def data_dir(tmp_path, monkeypatch, capsys) -> Path:
    """AMENDS_DATA_DIR, upgraded: `amends.db` in it is the database commands use."""
    monkeypatch.delenv("AMENDS_DATABASE_URL", raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    data = tmp_path / "data"
    monkeypatch.setenv("AMENDS_DATA_DIR", str(data))
    assert main(["db", "upgrade"]) == 0
    capsys.readouterr()
    return data
