"""`amends db downgrade REVISION`: the way back to an earlier release, said in a line."""

from __future__ import annotations

import pytest

from service.cli import main


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
