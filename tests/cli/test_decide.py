"""`amends decide` reads an incident on stdin and prints the decision."""

import io
import json

import pytest

from service.cli import main
from tests.conftest import design_example


def run_decide(monkeypatch, capsys, body, role="agent"):
    monkeypatch.setattr("sys.stdin", io.StringIO(body if isinstance(body, str)
                                                 else json.dumps(body)))
    code = main(["decide", "--role", role])
    return code, capsys.readouterr()


def test_decide_prints_the_decision(monkeypatch, capsys):
    code, out = run_decide(monkeypatch, capsys, design_example())
    assert code == 0
    decision = json.loads(out.out)
    assert decision["recovery"]["outlook"] == "likely"
    assert decision["offers"][0]["approver_role"] == "team_lead"
    assert decision["policy"]["name"] == "default"


def test_decide_rejects_bad_input_and_unknown_roles(monkeypatch, capsys):
    code, out = run_decide(monkeypatch, capsys, '{"incident_id": 1.5}')
    assert code == 2 and "decimal strings" in out.err
    body = design_example()
    body["failure"]["severity"] = 9
    code, out = run_decide(monkeypatch, capsys, body)
    assert code == 2 and "failure.severity" in json.loads(out.err)["errors"]
    code, out = run_decide(monkeypatch, capsys, design_example(), role="ceo")
    assert code == 2 and "unknown role" in out.err


def test_an_output_file_is_checked_before_the_work(tmp_path):
    from service.cli.output_file import unwritable

    assert unwritable(str(tmp_path / "new.json")) is None
    assert unwritable("/dev/null") is None  # written in place: its folder does not matter
    assert unwritable(str(tmp_path)) == f"{tmp_path} is a folder"
    assert unwritable(str(tmp_path / "no" / "x")) == f"there is no folder {tmp_path / 'no'}"


def test_period_arguments_say_what_is_wrong_with_them(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("AMENDS_DATABASE_URL", raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("AMENDS_DATA_DIR", str(tmp_path))
    assert main(["db", "upgrade"]) == 0
    capsys.readouterr()
    assert main(["export", "decisions", "--since", "9999-12-30"]) == 2
    assert "--since must be before" in capsys.readouterr().err
    assert main(["policy", "replay", "rules/default", "--until", "9999-12-31"]) == 2
    assert "cannot end with 9999-12-31" in capsys.readouterr().err
    assert main(["policy", "replay", "rules/default", "--since", "2026-11-01T08:00"]) == 2
    assert "with its offset" in capsys.readouterr().err  # as reports read it


def test_the_metrics_folder_is_emptied_of_metrics_only(tmp_path):
    """AMENDS_METRICS_DIR loses the metrics files an earlier run left; a folder holding
    anything else (the data folder, say) is refused in one line, never emptied."""
    from service.cli.serve import clear_metrics_dir
    from service.config import ConfigError

    metrics = tmp_path / "metrics"
    clear_metrics_dir(metrics)  # made
    for name in ("counter_123.db", "gauge_livesum_123.db", "histogram_9.db"):
        (metrics / name).write_bytes(b"x")
    clear_metrics_dir(metrics)
    assert list(metrics.iterdir()) == []
    data = tmp_path / "data"
    data.mkdir()
    (data / "amends.db").write_bytes(b"decisions")
    (data / "counter_1.db").write_bytes(b"x")
    with pytest.raises(ConfigError, match=r"holds files that are not metrics \(amends.db\)"):
        clear_metrics_dir(data)
    assert sorted(p.name for p in data.iterdir()) == ["amends.db", "counter_1.db"]
    (tmp_path / "a-file").write_text("x")
    with pytest.raises(ConfigError, match="cannot be made or read"):
        clear_metrics_dir(tmp_path / "a-file" / "metrics")


@pytest.mark.parametrize("setting", ["AMENDS_ACCESS_LOG", "AMENDS_METRICS_DIR"])
def test_serve_says_a_setting_it_cannot_use_in_one_line(tmp_path, monkeypatch, capsys,
                                                        setting):
    """Found only when serve uses them: an access log that cannot be written, a metrics
    folder holding other files. One line and exit 2, before gunicorn starts."""
    from service.cli import main as amends

    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "notes.txt").write_text("keep me")
    monkeypatch.setenv("AMENDS_API_KEYS_FILE", "config/dev-api-keys.yaml")
    monkeypatch.setenv("AMENDS_DATA_DIR", str(tmp_path / "db"))
    monkeypatch.delenv("AMENDS_DATABASE_URL", raising=False)
    monkeypatch.setenv(setting, str(tmp_path / "no" / "such" / "access.log")
                       if setting == "AMENDS_ACCESS_LOG" else str(tmp_path / "data"))
    assert amends(["serve", "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"amends: {setting}") and len(err.strip().splitlines()) == 1, err
    assert (tmp_path / "data" / "notes.txt").read_text() == "keep me"
