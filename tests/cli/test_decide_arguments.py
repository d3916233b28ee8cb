"""`amends decide` refuses what it would otherwise ignore or trip on: `--prior-failures`
with `--with-history` (the database counts them), `--principal` without it, a
`--prior-failures` no incident may carry, and an incident nested too deeply to read."""

from __future__ import annotations

import io
import json

import pytest

from service.cli import main
from tests.conftest import design_example


def decide(monkeypatch, capsys, *argv, body=None):
    monkeypatch.setattr("sys.stdin", io.StringIO(
        body if isinstance(body, str) else json.dumps(design_example())))
    code = main(["decide", "--role", "agent", *argv])
    return code, capsys.readouterr()


@pytest.mark.parametrize("argv, said", [
    (["--with-history", "--prior-failures", "5"],
     "amends: --prior-failures goes without --with-history"),
    (["--with-history", "--prior-failures", "0"],
     "amends: --prior-failures goes without --with-history"),
    (["--principal", "bob"], "amends: --principal goes with --with-history"),
], ids=["prior failures", "prior failures 0", "principal"])
def test_an_option_that_would_be_ignored_is_refused(data_dir, monkeypatch, capsys, argv,
                                                    said):
    code, out = decide(monkeypatch, capsys, *argv)
    assert code == 2 and out.out == ""
    assert out.err.startswith(said) and len(out.err.splitlines()) == 1


def test_each_option_where_it_applies(data_dir, monkeypatch, capsys):
    code, out = decide(monkeypatch, capsys, "--with-history", "--principal", "bob")
    assert code == 0, out.err
    code, out = decide(monkeypatch, capsys, "--prior-failures", "100000")
    assert code == 0, out.err
    assert json.loads(out.out)["prior_failures"] == 100000


@pytest.mark.parametrize("value", ["99999999999999999999", "100001", "-1", "5.0", "²"])
def test_prior_failures_an_incident_may_not_carry(monkeypatch, capsys, value):
    with pytest.raises(SystemExit) as stopped:
        decide(monkeypatch, capsys, "--prior-failures", value)
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert "--prior-failures: a whole number from 0 to 100000" in err
    assert "Traceback" not in err


def test_an_incident_nested_too_deeply(monkeypatch, capsys):
    code, out = decide(monkeypatch, capsys, body="[" * 100_000 + "]" * 100_000)
    assert code == 2
    assert out.err == "amends: the incident on standard input is nested too deeply to be read\n"
