"""A rule file or folder that may not be read, or a file name that is not UTF-8, is a
problem of the policy (file, message) in `policy check`, `policy test` and `decide
--policy`, as any file that cannot be read: never a traceback."""

from __future__ import annotations

import io
import json
import os
import pathlib

import pytest

from service.cli import main
from tests.conftest import design_example
from tests.support.policy_files import copy_policy

COMMANDS = [["policy", "check"], ["policy", "test"], ["decide", "--role", "agent", "--policy"]]


def run(command, folder, monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps(design_example())))
    code = main([*command, str(folder)])
    out = capsys.readouterr()
    assert "Traceback" not in out.err
    return code, out.out + out.err


def refused(paths, monkeypatch, method):
    """Path.`method` raises PermissionError for `paths`, as for a file mode 000 (the tests
    may run as root, whom permissions do not stop)."""
    real = getattr(pathlib.Path, method)

    def denied(self, *args, **kwargs):
        if self in paths:
            raise PermissionError(13, "Permission denied", str(self))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(pathlib.Path, method, denied)


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_a_rule_file_that_may_not_be_read(tmp_path, monkeypatch, capsys, command):
    folder = copy_policy(tmp_path / "policy")
    refused({folder / "roles.yaml", folder / "remedies.yaml"}, monkeypatch, "read_text")
    refused({folder / "roles.yaml", folder / "remedies.yaml"}, monkeypatch, "read_bytes")
    code, said = run(command, folder, monkeypatch, capsys)
    assert code == 1
    assert f"{folder / 'roles.yaml'}: cannot be read: Permission denied" in said
    assert f"{folder / 'remedies.yaml'}: cannot be read: Permission denied" in said


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_a_folder_that_may_not_be_read(tmp_path, monkeypatch, capsys, command):
    folder = copy_policy(tmp_path / "policy")
    refused({folder}, monkeypatch, "iterdir")
    code, said = run(command, folder, monkeypatch, capsys)
    assert code == 1
    assert f"{folder}: cannot be read: Permission denied" in said


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_a_file_name_that_is_not_utf8(tmp_path, monkeypatch, capsys, command):
    folder = copy_policy(tmp_path / "policy")
    name = os.fsdecode(b"extra\xff.yaml")
    try:
        (folder / name).write_bytes((folder / "roles.yaml").read_bytes())
    except OSError:
        pytest.skip("this file system takes only UTF-8 names")
    code, said = run(command, folder, monkeypatch, capsys)
    assert code == 1
    assert f"{folder}/extra\\xff.yaml: not read: the file name is not UTF-8 text" in said


def test_a_file_name_that_is_not_utf8_is_not_activated(tmp_path, monkeypatch, capsys,
                                                        data_dir):
    folder = copy_policy(tmp_path / "policy")
    try:
        (folder / os.fsdecode(b"x\xfe.yaml")).write_text("rules: []\n")
    except OSError:
        pytest.skip("this file system takes only UTF-8 names")
    assert main(["policy", "activate", str(folder), "--by", "alice"]) == 1
    out = capsys.readouterr()
    assert f"{folder}/x\\xfe.yaml: not read: the file name is not UTF-8 text" in out.out
    assert "Traceback" not in out.err
