"""A file a command writes (`export -o`, `policy replay --json`) is never a file of the
database, and is written whole: a failed or interrupted export leaves the earlier file as it
was, and no temporary file beside it."""

from __future__ import annotations

import errno
import os
import stat
import subprocess
import sys

import pytest

from service.cli import main
from service.cli.output_file import unwritable, written

EXPORT = ["export", "decisions", "--since", "2020-01-01"]
REPLAY = ["policy", "replay", "rules/default"]


def database_files(data_dir):
    return {path.name: path.read_bytes() for path in data_dir.iterdir()}


@pytest.mark.parametrize("name", ["amends.db", "amends.db-wal", "amends.db-shm",
                                  "amends.db-journal", "amends.db-writer.lock"])
@pytest.mark.parametrize("command, option", [(EXPORT, "-o"), (REPLAY, "--json")],
                         ids=["export", "replay"])
def test_a_file_of_the_database_is_never_written_over(data_dir, capsys, command, option,
                                                       name):
    before = database_files(data_dir)
    assert main([*command, option, str(data_dir / name)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"amends: cannot write {option if option == '--json' else '--output'}")
    assert len(err.splitlines()) == 1
    assert "of the database" in err or "is the database" in err
    assert database_files(data_dir) == before


def test_the_database_is_known_by_any_name(data_dir, tmp_path, capsys, monkeypatch):
    """A link, a hard link, a relative name: the same file."""
    before = database_files(data_dir)
    (tmp_path / "link.db").symlink_to(data_dir / "amends.db")
    os.link(data_dir / "amends.db", tmp_path / "hard.db")
    monkeypatch.chdir(data_dir)
    for name in (str(tmp_path / "link.db"), str(tmp_path / "hard.db"), "amends.db",
                 "../data/amends.db"):
        assert main([*EXPORT, "-o", name]) == 2, name
        assert "is the database" in capsys.readouterr().err
    assert database_files(data_dir) == before


@pytest.mark.parametrize(("fault", "writer", "code", "said"), [
    (OSError(errno.ENOSPC, "No space left on device"), "ndjson", 2, "No space left on device"),
    (KeyboardInterrupt(), "csv", 130, "amends: interrupted"),
], ids=["failed", "interrupted"])
def test_an_export_cut_short_leaves_the_earlier_file_as_it_was(data_dir, tmp_path, capsys,
                                                               monkeypatch, fault, writer,
                                                               code, said):
    earlier = tmp_path / f"nov.{writer}"
    earlier.write_text("the complete export\n")

    def cut_short(documents, out):
        out.write("a first line\n")
        raise fault

    monkeypatch.setattr(f"service.cli.export._write_{writer}", cut_short)
    assert main([*EXPORT, "--format", writer, "-o", str(earlier)]) == code
    assert said in capsys.readouterr().err
    assert earlier.read_text() == "the complete export\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", earlier.name]


def test_a_complete_export_replaces_the_file_keeping_its_mode(data_dir, tmp_path, capsys):
    earlier = tmp_path / "nov.ndjson"
    earlier.write_text("an older export\n")
    earlier.chmod(0o640)
    assert main([*EXPORT, "-o", str(earlier)]) == 0
    assert "0 decision(s) written" in capsys.readouterr().err
    assert earlier.read_text() == ""
    assert stat.S_IMODE(earlier.stat().st_mode) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "nov.ndjson"]


def test_what_is_not_a_regular_file_is_written_in_place(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        with written(str(fifo)) as out:
            out.write("through\n")
        assert os.read(reader, 100) == b"through\n"
    finally:
        os.close(reader)
    assert stat.S_ISFIFO(fifo.stat().st_mode)
    with written(os.devnull) as out:
        out.write("nothing\n")
    assert stat.S_ISCHR(os.stat(os.devnull).st_mode)


def test_a_link_keeps_leading_to_the_file_written(tmp_path):
    (tmp_path / "real.json").write_text("old\n")
    (tmp_path / "link.json").symlink_to(tmp_path / "real.json")
    with written(str(tmp_path / "link.json")) as out:
        out.write("new\n")
    assert (tmp_path / "link.json").is_symlink()
    assert (tmp_path / "real.json").read_text() == "new\n"


def test_a_new_file_in_a_folder_that_takes_none_is_refused_before_the_work(tmp_path,
                                                                          monkeypatch):
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda path, mode: (
        False if os.fspath(path) == str(tmp_path) else real_access(path, mode)))
    assert unwritable(str(tmp_path / "new.json")) == f"no file may be made in {tmp_path}"
    (tmp_path / "old.json").write_text("{}\n")
    assert unwritable(str(tmp_path / "old.json")) is None  # written in place, as before


def test_a_file_nothing_may_be_made_beside_is_written_in_place(tmp_path, monkeypatch):
    """A read-only folder holding a writable file: it was overwritten in place before files
    were made beside their name, and still is."""
    old = tmp_path / "old.json"
    old.write_text("{}\n")
    real_open = os.open

    def no_new_file(path, flags, *args):
        if os.fspath(path).endswith(".tmp"):
            raise PermissionError(errno.EACCES, "Permission denied", path)
        return real_open(path, flags, *args)

    monkeypatch.setattr(os, "open", no_new_file)
    with written(str(old)) as out:
        out.write("new\n")
    assert old.read_text() == "new\n"


def test_a_file_that_may_not_be_renamed_over_is_written_in_place(tmp_path, monkeypatch):
    """Another's file in a sticky folder (/tmp): a file is made beside it, but may not replace
    it; what was made is written into it, and removed."""
    old = tmp_path / "shared.json"
    old.write_text("{}\n")

    def refused(source, target):
        raise PermissionError(errno.EPERM, "Operation not permitted", source)

    monkeypatch.setattr(os, "replace", refused)
    with written(str(old)) as out:
        out.write("new\n")
    assert old.read_text() == "new\n"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["shared.json"]


@pytest.mark.skipif(not os.path.exists("/dev/stdout"), reason="no /dev/stdout")
def test_dev_stdout_on_a_pipe_is_written_in_place(data_dir):
    run = subprocess.run([sys.executable, "-m", "service.cli", *EXPORT, "--format", "csv",
                          "-o", "/dev/stdout"], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "AMENDS_DATA_DIR": str(data_dir)})
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("decision_id,incident_id,")


@pytest.mark.parametrize(("command", "option"), [(EXPORT, "-o"), (REPLAY, "--json")])
def test_an_empty_file_name_is_refused_not_taken_for_standard_output(data_dir, capsys,
                                                                     command, option):
    assert main([*command, option, ""]) == 2
    assert capsys.readouterr().err == (
        f"amends: cannot write {'--json' if option == '--json' else '--output'}: an empty "
        "name names no file\n")


@pytest.mark.parametrize("argv", [[*EXPORT, "--page-size", "\u0663"],
                                  [*REPLAY, "--limit", "\u0663"],
                                  [*REPLAY, "--sample", "+3"]])
def test_numbers_are_written_in_ascii_digits(data_dir, capsys, argv):
    with pytest.raises(SystemExit) as refused:
        main(argv)
    assert refused.value.code == 2
    err = capsys.readouterr().err
    assert "whole number" in err, err
