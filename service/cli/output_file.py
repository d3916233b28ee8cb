"""A file a command is asked to write: checked before the work that fills it is done, never
the database itself, and written whole or not at all."""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

# The files of an embedded database: the database, its write-ahead log and shared memory,
# a rollback journal (a stray one would be "rolled back" into the database), the writers'
# queue (service.store.writer_lock).
DATABASE_FILES = {"": "", "-wal": "write-ahead log", "-shm": "shared memory",
                  "-journal": "rollback journal", "-writer.lock": "writers' lock"}
# Why a file may not be made in a folder, or renamed over another's.
_REFUSED = {errno.EACCES, errno.EPERM, errno.EROFS}


def unwritable(path: str, database_url: str | None = None) -> str | None:
    """Why `path` cannot be written as a file, in words; None when it can (as far as can be
    told without writing it). A file of the embedded database at `database_url` is never
    written over."""
    if not path:
        return "an empty name names no file"
    target = Path(path)
    clash = database_file(target, database_url) if database_url else None
    if clash:
        return clash
    if target.is_dir():
        return f"{path} is a folder"
    if target.exists() and not target.is_file():  # /dev/null, a FIFO: written in place
        return None if os.access(target, os.W_OK) else f"{path} may not be written"
    if target.exists():  # written beside it and renamed, or in place where it cannot be
        return None if os.access(target, os.W_OK) else f"{path} may not be written"
    folder = Path(os.path.realpath(target)).parent  # the new file is made there
    if not folder.is_dir():
        return f"there is no folder {target.parent}"
    if not os.access(folder, os.W_OK | os.X_OK):
        return f"no file may be made in {folder}"
    return None


def database_file(target: Path, database_url: str) -> str | None:
    """What `target` is when it is a file of the embedded database at `database_url` (the
    same file, by any name or link, or the name it would have), else None."""
    from sqlalchemy.exc import ArgumentError

    from service.store.database import sqlite_file

    try:
        database = sqlite_file(database_url)
    except ArgumentError:  # said when the command uses the database
        return None
    if database is None:
        return None
    for suffix, what in DATABASE_FILES.items():
        if _same_file(target, database.with_name(database.name + suffix)):
            return (f"{target} is the database" if not suffix else
                    f"{target} is the {what} of the database {database}")
    return None


def _same_file(one: Path, other: Path) -> bool:
    try:
        return os.path.samefile(one, other)
    except OSError:  # one of them is not there (yet): the same name, then
        return os.path.realpath(one) == os.path.realpath(other)


@contextlib.contextmanager
def written(path: str, newline: str | None = None) -> Iterator[TextIO]:
    """A UTF-8 text file to write at `path`, made whole: it is written beside it under a
    temporary name and renamed over it once complete, so that a failure or an interruption
    leaves an earlier file as it was (the temporary one removed). What is not a regular file
    (/dev/null, a FIFO) is written in place, and so is an existing file where no file may be
    made beside it (a read-only folder) or renamed over it (another's, in a sticky folder
    such as /tmp), as before."""
    try:
        earlier = os.stat(path)
    except FileNotFoundError:
        earlier = None
    if earlier is not None and not stat.S_ISREG(earlier.st_mode):  # /dev/stdout on a pipe
        with open(path, "w", encoding="utf-8", newline=newline) as out:
            yield out
        return
    target = os.path.realpath(path)  # a link keeps leading to the file
    folder, name = os.path.split(target)
    temporary = os.path.join(folder, f".{name[:100]}.{secrets.token_hex(6)}.tmp")
    try:
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # umask
    except OSError as refused:
        if earlier is None or refused.errno not in _REFUSED:
            raise
        with open(target, "w", encoding="utf-8", newline=newline) as out:
            yield out
        return
    try:
        with open(descriptor, "w", encoding="utf-8", newline=newline) as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        if earlier is not None:  # as the file it replaces
            os.chmod(temporary, stat.S_IMODE(earlier.st_mode))
            if (earlier.st_uid, earlier.st_gid) != (os.geteuid(), os.getegid()):
                with contextlib.suppress(OSError):
                    os.chown(temporary, earlier.st_uid, earlier.st_gid)
        try:
            os.replace(temporary, target)
        except OSError as refused:
            if earlier is None or refused.errno not in _REFUSED:
                raise
            with open(temporary, "rb") as made, open(target, "wb") as out:
                shutil.copyfileobj(made, out)
            os.unlink(temporary)
    except BaseException:  # KeyboardInterrupt included
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
