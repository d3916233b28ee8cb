"""What the database said, in the three kinds that decide the answer: unreachable or too
slow (retry later), a value it refuses (the caller's to fix), a uniqueness race (a conflict).
Anything else stays an error of its own and is logged with its traceback."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import exc


class DatabaseUnavailable(Exception):
    """Unreachable, gone mid-transaction, locked or timed out: nothing was changed."""


class ValueRefused(Exception):
    """The database refused a value (a NUL byte, a string over its column's length)."""

    def __init__(self, message: str):
        self.errors = {"_body": [message]}
        super().__init__(message)


class UniquenessRace(Exception):
    """A concurrent request stored the same thing first."""


def _first_line(error: Exception) -> str:
    text = str(getattr(error, "orig", None) or error)
    return text.splitlines()[0] if text else type(error).__name__


@contextmanager
def translated() -> Iterator[None]:
    """Raise database errors as one of the kinds above."""
    try:
        yield
    except exc.IntegrityError as error:
        raise UniquenessRace(f"A concurrent request stored this first: {_first_line(error)}"
                             ) from error
    except exc.DataError as error:
        raise ValueRefused(f"The database refused a value: {_first_line(error)}") from error
    except (exc.OperationalError, exc.InterfaceError, exc.TimeoutError,
            exc.DisconnectionError) as error:
        raise DatabaseUnavailable(_first_line(error)) from error
