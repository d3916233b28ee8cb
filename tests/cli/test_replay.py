"""`amends policy replay CANDIDATE`: the stored decisions of a period through a folder or a
stored version, nothing stored; a summary, the whole report as JSON on request."""

from __future__ import annotations

import io
import json
import uuid

from schemas.replay import ReplayReportSchema
from service.app.active_policy import PolicySource
from service.app.decisions import record_decision
from service.app.intake import parse_incident
from service.app.policy_activation import activate
from service.cli import main
from service.cli.replay import ProgressBar
from service.config import shipped_policy
from service.domain.principal import Principal
from service.store import clock
from tests.conftest import design_example
from tests.support.policy_files import copy_policy, edit


def amends(monkeypatch, capsys, store, *argv):
    monkeypatch.setenv("AMENDS_DATABASE_URL", store.url)
    code = main(["policy", "replay", *argv])
    return code, capsys.readouterr()


def record(store, shipped, count=2) -> str:
    since = clock.now().isoformat()
    agent = Principal(f"agent-{uuid.uuid4().hex[:8]}", "agent")
    for _ in range(count):
        body = design_example()
        record_decision(store, shipped, agent, body, parse_incident(body, shipped.policy))
    return since


def test_a_folder_with_one_rule_changed(fresh_store, shipped, tmp_path, monkeypatch, capsys):
    since = record(fresh_store, shipped)
    folder = copy_policy(tmp_path / "p")
    edit(folder, "remedies.yaml", "          percent: 10\n\n  - id: discount-minor-avoidable",
         "          percent: 15\n\n  - id: discount-minor-avoidable")
    out_file = tmp_path / "report.json"
    code, out = amends(monkeypatch, capsys, fresh_store, str(folder), "--since", since,
                       "--json", str(out_file), "--sample", "1")
    assert code == 0, out.err
    assert "2 stored decisions replayed of 2" in out.out and "nothing stored" in out.out
    assert "changed: 2 (100.0%): outlook 0, offers 2, approvals 0" in out.out
    assert "- discount 12.00 EUR" in out.out and "+ discount 18.00 EUR" in out.out
    assert "of the candidate's own test cases fail" in out.out
    report = json.loads(out_file.read_text())
    assert ReplayReportSchema().validate(report) == {}
    assert report["changed"]["offers"] == 2 and len(report["sample"]) == 1
    assert report["money"][0]["offered_after"] == "301.00"


def test_a_stored_version_against_itself(fresh_store, shipped, monkeypatch, capsys):
    activate(fresh_store, PolicySource.read(shipped_policy()), shipped.policy, "test", "cli")
    since = record(fresh_store, shipped, 3)
    code, out = amends(monkeypatch, capsys, fresh_store, shipped.policy.version,
                       "--since", since[:10], "--json", "-")
    assert code == 0, out.err
    report = json.loads(out.out)  # JSON alone on stdout
    assert report["replayed"] == 3 and report["changed"]["decisions"] == 0
    assert report["candidate"]["source"] == f"version {shipped.policy.version}"
    code, out = amends(monkeypatch, capsys, fresh_store, shipped.policy.version,
                       "--limit", "1")
    assert code == 0 and "1 stored decisions replayed of 3" in out.out


def test_an_unknown_candidate_or_period_is_refused(fresh_store, monkeypatch, capsys):
    code, out = amends(monkeypatch, capsys, fresh_store, "0123456789abcdef")
    assert code == 1 and "candidate.version: No stored policy version" in out.err
    code, out = amends(monkeypatch, capsys, fresh_store, "0123456789abcdef", "--since",
                       "last week")
    assert code == 2 and "--since" in out.err
    code, out = amends(monkeypatch, capsys, fresh_store, "0123456789abcdef", "--since",
                       "2026-11-02", "--until", "2026-11-01")
    assert code == 2 and "after it ends" in out.err
    code, out = amends(monkeypatch, capsys, fresh_store, "0123456789abcdef", "--since",
                       "2999-01-01")  # until now: a period that starts after it ends
    assert code == 2 and out.err.startswith("amends: --since: The period starts")
    code, out = amends(monkeypatch, capsys, fresh_store, "0123456789abcdef", "--since",
                       "2026-11-01", "--until", "yesterday")
    assert code == 2 and out.err.startswith("amends: --until: ")


def test_the_progress_bar_draws_on_long_runs_only():
    stream = io.StringIO()
    bar = ProgressBar(stream, after_seconds=3600)
    bar.update(10, 100)
    bar.finish()
    assert stream.getvalue() == ""
    bar = ProgressBar(stream, after_seconds=0)
    bar.update(25, 100)
    bar.update(100, 100)
    bar.finish()
    lines = stream.getvalue().split("\r")
    assert lines[1].startswith("[#######.......................] 25/100 decisions")
    assert lines[2].startswith("[##############################] 100/100 decisions")
    assert stream.getvalue().endswith("\n")


def test_a_report_file_that_cannot_be_written_is_said_before_replaying(fresh_store,
                                                                       monkeypatch, capsys,
                                                                       tmp_path):
    code, out = amends(monkeypatch, capsys, fresh_store, str(shipped_policy()), "--json",
                       str(tmp_path / "missing" / "report.json"))
    assert code == 2 and "there is no folder" in out.err and out.out == ""
