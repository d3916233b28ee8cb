"""The database a command only reads must exist: SQLite makes an empty one on connecting, and
a report run from the wrong folder would show plausible zeros."""

from __future__ import annotations

from service.config import Settings


def require_database(settings: Settings) -> None:
    """StoreError (said in a line by `service.cli.main`, exit 2) when the embedded database a
    reading command would use is not there."""
    from service.store.database import StoreError, sqlite_file

    path = sqlite_file(settings.database_url)
    if path is not None and not path.exists():
        raise StoreError(f"no database at {path.resolve()}: set AMENDS_DATA_DIR (or "
                         "AMENDS_DATABASE_URL) to where `amends serve` keeps its data")
