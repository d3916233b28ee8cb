"""The command line says in one line what is wrong with the database, never with a
traceback: unreachable or missing (exit 2), an embedded database that is not there for a
command that only reads it (exit 2, nothing created), a `--by` too long to record (the
usage error, before anything is done); and a reader that goes away (`| head`) ends it
quietly."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from sqlalchemy import create_engine, text

from service.cli import main
from tests.support.policy_files import copy_policy

READING = [["report", "outcomes"], ["report", "failures"],
           ["export", "decisions", "--since", "2026-11-01"], ["policy", "versions"],
           ["policy", "refusals"], ["policy", "show", "0123456789abcdef"],
           ["policy", "replay", "rules/default"]]
WRITING = [["db", "upgrade"], ["db", "downgrade", "0005"], ["policy", "activate", "rules/default"],
           ["policy", "rollback", "0123456789abcdef"]]


@pytest.mark.parametrize("url", ["postgresql://nobody@127.0.0.1:1/x",
                                 "postgresql://postgres@127.0.0.1:5432/no_such_database_here"])
@pytest.mark.parametrize("command", READING + WRITING, ids=" ".join)
def test_a_database_that_cannot_be_used_is_said_in_a_line(monkeypatch, capsys, url, command):
    monkeypatch.setenv("AMENDS_DATABASE_URL", url)
    monkeypatch.setenv("AMENDS_DATABASE_TIMEOUT_SECONDS", "2")
    assert main(command) == 2
    err = capsys.readouterr().err
    assert err.startswith("amends: ") and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err


@pytest.mark.parametrize("command", READING, ids=" ".join)
def test_a_reading_command_does_not_make_an_embedded_database(monkeypatch, capsys, tmp_path,
                                                               command):
    monkeypatch.delenv("AMENDS_DATABASE_URL", raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("AMENDS_DATA_DIR", str(tmp_path / "typo"))
    assert main(command) == 2
    assert f"no database at {tmp_path / 'typo'}" in capsys.readouterr().err
    assert not (tmp_path / "typo").exists()


@pytest.mark.parametrize("command", READING, ids=" ".join)
def test_a_reading_command_leaves_an_older_embedded_database_as_it_is(monkeypatch, capsys,
                                                                       tmp_path, command):
    """A server of the older Amends may still be running on it: a report is no reason to
    migrate its database under it (reports and replay did)."""
    from alembic import command as alembic

    from service.store.database import alembic_config
    url = f"sqlite:///{tmp_path / 'amends.db'}"
    alembic.upgrade(alembic_config(url), "0004")
    monkeypatch.setenv("AMENDS_DATABASE_URL", url)
    assert main(command) == 2
    assert "not current; run `amends db upgrade`" in capsys.readouterr().err
    engine = create_engine(url)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT version_num FROM alembic_version")).scalar() \
            == "0004"
    engine.dispose()


@pytest.mark.parametrize("command", [["policy", "activate", "rules/default"],
                                     ["policy", "rollback", "0123456789abcdef"]], ids=" ".join)
def test_a_by_too_long_to_record_is_refused_before_anything_is_done(capsys, command):
    with pytest.raises(SystemExit) as stopped:
        main([*command, "--by", "a" * 201])
    assert stopped.value.code == 2
    assert "--by: the name is longer than 200 characters" in capsys.readouterr().err


def test_a_reader_that_goes_away_ends_the_output_quietly(tmp_path):
    folder = copy_policy(tmp_path / "policy")
    env = {**os.environ, "AMENDS_DATA_DIR": str(tmp_path / "data")}
    env.pop("AMENDS_DATABASE_URL", None)
    env.pop("DATABASE_URL", None)
    script = (f"{sys.executable} -m service.cli db upgrade >/dev/null && "
              f"{sys.executable} -m service.cli policy activate {folder} >/dev/null && "
              # `true` reads nothing and is gone long before the command writes
              f"{sys.executable} -m service.cli policy versions | true; "
              f"{sys.executable} -m service.cli policy test {folder} | true; "
              f"{sys.executable} -m service.cli export decisions --since 2020-01-01 | true")
    run = subprocess.run(["bash", "-c", script], env=env,
                         capture_output=True, text=True, timeout=300)
    assert "Traceback" not in run.stderr and "Broken pipe" not in run.stderr, run.stderr


@pytest.mark.parametrize("command", [["policy", "versions"], ["db", "upgrade"],
                                     ["report", "outcomes"]], ids=" ".join)
def test_a_database_url_that_cannot_be_read_is_said_in_a_line(monkeypatch, capsys, command):
    monkeypatch.setenv("AMENDS_DATABASE_URL", "not a url")
    assert main(command) == 2
    err = capsys.readouterr().err
    assert err.startswith("amends: cannot use the database URL (AMENDS_DATABASE_URL)")
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_a_reading_command_takes_a_uri_filename_as_sqlite_does(monkeypatch, capsys, tmp_path):
    monkeypatch.chdir(tmp_path)  # where a folder named `file:` would appear
    monkeypatch.setenv("AMENDS_DATABASE_URL", f"sqlite:///{tmp_path}/amends.db")
    assert main(["db", "upgrade"]) == 0
    monkeypatch.setenv("AMENDS_DATABASE_URL",
                       f"sqlite:///file:{tmp_path}/amends.db?uri=true")
    capsys.readouterr()
    assert main(["policy", "versions"]) == 0, capsys.readouterr().err
    assert not (tmp_path / "file:").exists()  # the URI names the file; no folder is made
    assert (tmp_path / "amends.db-writer.lock").exists()  # its writers queue beside it
    monkeypatch.setenv("AMENDS_DATABASE_URL",
                       f"sqlite:///file:{tmp_path}/nowhere.db?uri=true")
    assert main(["policy", "versions"]) == 2
    assert f"no database at {tmp_path}/nowhere.db" in capsys.readouterr().err


@pytest.mark.parametrize("command", [["db", "upgrade"], ["policy", "activate", "rules/default"]],
                         ids=" ".join)
def test_a_data_folder_that_cannot_be_made_is_said_in_a_line(monkeypatch, capsys, tmp_path,
                                                              command):
    (tmp_path / "a-file").write_text("not a folder")
    monkeypatch.setenv("AMENDS_DATA_DIR", str(tmp_path / "a-file" / "data"))
    monkeypatch.delenv("AMENDS_DATABASE_URL", raising=False)
    assert main(command) == 2
    err = capsys.readouterr().err
    assert err.startswith("amends: cannot make the folder of the database") and \
        "(AMENDS_DATA_DIR" in err and "Traceback" not in err


def test_a_writers_lock_that_cannot_be_opened_is_said_in_a_line(monkeypatch, tmp_path):
    """A data folder the user Amends runs as cannot write (a volume of another owner): the
    writers' lock file says so, as a StoreError (one line from the command line)."""
    from service.store import writer_lock
    from service.store.database import StoreError

    def refused(path, flags, mode=0o777):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(writer_lock.os, "open", refused)
    with pytest.raises(StoreError, match=r"cannot open the writers' lock file .*Permission "
                                         r"denied .*writable by the user Amends runs as"):
        writer_lock._open(tmp_path / "amends.db-writer.lock")


def test_a_database_this_user_cannot_write_is_refused_at_start(tmp_path, monkeypatch):
    """An embedded database file (or its folder) the user cannot write: the service would
    answer reads and fail every decision, so it does not start (one line from serve)."""
    from service.store.database import Store, StoreError, upgrade

    url = f"sqlite:///{tmp_path / 'amends.db'}"
    upgrade(url)
    store = Store(url, 5)
    try:
        store.check_writable()
        real = os.access
        monkeypatch.setattr(os, "access", lambda path, mode: not str(path).endswith(
            "amends.db") and real(path, mode))
        with pytest.raises(StoreError, match=r"amends.db cannot be written by this user"):
            store.check_writable()
    finally:
        store.engine.dispose()


@pytest.mark.parametrize("url", [
    "sqlite:///file:{}?mode=ro&uri=true", "sqlite:///file:{}?immutable=1&uri=true"])
def test_a_database_opened_read_only_is_refused_at_start(tmp_path, url):
    """A URI filename that opens the file read-only: the service had said it was ready, then
    failed every decision with a 500."""
    from service.store.database import Store, StoreError, upgrade

    path = tmp_path / "amends.db"
    upgrade(f"sqlite:///{path}")
    store = Store(url.format(path), 5)
    try:
        with pytest.raises(StoreError, match=r"opened read-only .*name it without them"):
            store.check_writable()
    finally:
        store.engine.dispose()
    for options in ("mode=rw&uri=true", "immutable=no&uri=true", "immutable=OFF&uri=true"):
        writable = Store(f"sqlite:///file:{path}?{options}", 5)
        try:
            writable.check_writable()
        finally:
            writable.engine.dispose()
