"""`amends db downgrade REVISION`: the way back to an earlier release, said in a line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from service.cli import main

ROOT = Path(__file__).resolve().parents[2]


def test_a_downgrade_names_the_schema_it_left_the_database_at(data_dir, capsys):
    assert main(["db", "downgrade", "0005"]) == 0
    assert capsys.readouterr().out.strip().endswith("is at schema 0005")
    assert main(["db", "upgrade"]) == 0


def test_a_revision_it_cannot_go_back_to_is_said_in_a_line(data_dir, capsys):
    for revision in ("0999", "base"):
        assert main(["db", "downgrade", revision]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"amends: no schema revision '{revision}': this Amends knows "
                              "0001, ") and len(err.splitlines()) == 1


def test_the_help_lists_every_revision_and_what_it_does(capsys):
    with pytest.raises(SystemExit):
        main(["db", "downgrade", "--help"])
    out = capsys.readouterr().out
    assert "0005  The requester's note and the decider's reason kept apart" in out


def test_a_downgrade_of_no_embedded_database_makes_none(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("AMENDS_DATABASE_URL", raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("AMENDS_DATA_DIR", str(tmp_path / "typo"))
    assert main(["db", "downgrade", "0005"]) == 2
    assert f"no database at {tmp_path / 'typo'}" in capsys.readouterr().err
    assert not (tmp_path / "typo").exists()


def test_the_revisions_are_read_only_for_the_help_that_shows_them():
    """Reading them loads Alembic, a second of every command's start otherwise."""
    shown = subprocess.run(
        [sys.executable, "-c", "import sys\nfrom service.cli import main\n"
         "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
         "print('alembic' in sys.modules, file=sys.stderr)"],
        cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert shown.stderr.strip().splitlines()[-1] == "False", shown.stderr
