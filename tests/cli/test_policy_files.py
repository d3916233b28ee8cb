"""`amends policy check` on a big policy shows how far it has come, on a terminal only."""

import io

from service.app.active_policy import read_policy
from service.cli.policy_files import Progress
from service.config import shipped_policy


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_is_one_rewritten_line_on_a_terminal_and_is_cleared():
    screen = Terminal()
    progress = Progress(screen, after=0, every=0)
    read_policy(shipped_policy(), progress)
    progress("compiling rules for the engine", 0, 1)
    progress.done()
    shown = screen.getvalue()
    assert "\rreading files" not in shown  # each line starts by clearing the last
    assert "\r\x1b[Kreading files" in shown and "checking rule files 0/2" in shown
    assert "compiling rules for the engine (" in shown
    assert shown.endswith("\r\x1b[K")


def test_nothing_is_shown_off_a_terminal_or_for_a_quick_check():
    piped, quick = io.StringIO(), Terminal()
    for stream, after in ((piped, 0), (quick, 60)):
        progress = Progress(stream, after=after, every=0)
        read_policy(shipped_policy(), progress)
        progress.done()
    assert piped.getvalue() == quick.getvalue() == ""
