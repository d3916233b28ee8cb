"""`--by` (policy activate, policy rollback) names who did it on a line of its own in
`policy versions`: a blank name, or one with a control character (a line break would fake
lines), is refused before anything is done, as a name an API principal could not be."""

from __future__ import annotations

import argparse
import re

import pytest

from service.cli import main
from service.cli.policy_files import who

REFUSED = {"": "blank", "   ": "blank", "\t": "blank", "bob\nactivated by mallory":
           "control character (U+000A)", "bob\r": "control character (U+000D)",
           "a\x1b[2Jb": "control character (U+001B)", "a\x7fb": "control character (U+007F)",
           "a\u2028b": "control character (U+2028)", "a\x00b": "NUL"}


@pytest.mark.parametrize("name", REFUSED, ids=repr)
def test_a_name_that_cannot_be_shown_on_a_line_is_refused(name):
    with pytest.raises(argparse.ArgumentTypeError, match=re.escape(REFUSED[name])):
        who(name)


@pytest.mark.parametrize("name", ["alice", "Zoë Åberg", "ops@example.com", "uid 1000"])
def test_names_are_taken_as_they_are(name):
    assert who(name) == name


@pytest.mark.parametrize("command", [["policy", "activate", "rules/default"],
                                     ["policy", "rollback", "0123456789abcdef"]],
                         ids=" ".join)
@pytest.mark.parametrize("name", ["", "bob\nmallory"], ids=repr)
def test_the_command_stops_before_anything_is_done(tmp_path, monkeypatch, capsys, command,
                                                   name):
    monkeypatch.delenv("AMENDS_DATABASE_URL", raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("AMENDS_DATA_DIR", str(tmp_path / "data"))
    with pytest.raises(SystemExit) as stopped:
        main([*command, "--by", name])
    assert stopped.value.code == 2
    assert "argument --by: the name " in capsys.readouterr().err
    assert not (tmp_path / "data").exists()
