"""Ctrl-C and a standard output that cannot be written are said in one line, never with a
traceback: `amends: interrupted` (exit 130), `amends: cannot write standard output: ...`
(exit 2); a broken pipe still ends the command quietly."""

from __future__ import annotations

import errno
import os
import subprocess
import sys

import pytest

from service.cli import main


def test_ctrl_c_is_said_in_a_line(monkeypatch, capsys):
    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr("service.cli.policy_files.policy_check", interrupted)
    assert main(["policy", "check", "rules/default"]) == 130
    assert capsys.readouterr().err == "amends: interrupted\n"


def test_ctrl_c_inside_a_transaction_leaves_the_database_usable(data_dir, monkeypatch,
                                                                capsys):
    """Interrupted with the activation lock held: nothing is activated, and the next
    activation (the writers' lock, the activation lock) goes through."""
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    with monkeypatch.context() as patched:
        patched.setattr("service.app.policy_activation.orphaned_work", interrupted)
        assert main(["policy", "activate", "rules/default", "--by", "alice"]) == 130
    assert capsys.readouterr().err == "amends: interrupted\n"
    assert main(["policy", "versions"]) == 0
    assert "no policy version was ever activated" in capsys.readouterr().out
    assert main(["policy", "activate", "rules/default", "--by", "alice"]) == 0
    assert "activated by alice" in capsys.readouterr().out


class Full:
    """A standard output on a full disk."""

    def write(self, text):
        raise OSError(errno.ENOSPC, "No space left on device")

    def flush(self):
        pass

    def isatty(self):
        return False


def test_a_standard_output_that_cannot_be_written_is_said_in_a_line(monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdout", Full())
    assert main(["policy", "check", "rules/default"]) == 2
    assert capsys.readouterr().err == ("amends: cannot write standard output: [Errno 28] No "
                                       "space left on device\n")
    assert isinstance(sys.stdout, Full)  # as it was


def test_another_os_error_is_not_taken_for_standard_output(monkeypatch, capsys):
    def fails(args):
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr("service.cli.policy_files.policy_check", fails)
    with pytest.raises(OSError, match="Input/output error"):
        main(["policy", "check", "rules/default"])
    assert "standard output" not in capsys.readouterr().err


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full")
@pytest.mark.parametrize("command", [["policy", "versions"], ["report", "outcomes"],
                                     ["policy", "check", "rules/default"]], ids=" ".join)
def test_a_full_disk_under_standard_output(data_dir, command):
    """What is buffered is written before the command ends, its failure said then; nothing
    is left for the interpreter's last flush to fail on (exit 120 and a traceback)."""
    with open("/dev/full", "w") as full:
        run = subprocess.run([sys.executable, "-m", "service.cli", *command], stdout=full,
                             stderr=subprocess.PIPE, text=True, timeout=120,
                             env={**os.environ, "AMENDS_DATA_DIR": str(data_dir)})
    assert run.returncode == 2, run.stderr
    assert run.stderr == ("amends: cannot write standard output: [Errno 28] No space left on "
                          "device\n")


def test_a_closed_standard_output_is_no_fault(data_dir, tmp_path):
    """`amends ... >&-`: Python's stdout is None, and printing to it does nothing, as it did
    before standard output was watched for write errors (then every command failed with a
    traceback, after doing its work)."""
    run = subprocess.run(
        f'"{sys.executable}" -m service.cli policy versions >&-', shell=True,
        capture_output=True, text=True, timeout=120,
        env={**os.environ, "AMENDS_DATA_DIR": str(data_dir)})
    assert run.returncode == 0 and "Traceback" not in run.stderr, run.stderr
