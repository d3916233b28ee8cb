"""The database a command only reads must exist: SQLite makes an empty one on connecting, and
a report run from the wrong folder would show plausible zeros."""

from __future__ import annotations

from pathlib import Path

from service.config import Settings


def missing_database(settings: Settings) -> str | None:
    """What to say when the embedded database a reading command would use is not there."""
    if not settings.is_sqlite:
        return None
    from sqlalchemy.engine import make_url

    url = make_url(settings.database_url)
    path = url.database
    if (not path or path == ":memory:" or path.startswith("file:")
            or url.query.get("uri") == "true" or Path(path).exists()):
        return None  # in memory, a URI filename (SQLite reads it: mode=ro...), or there
    return (f"no database at {Path(path).resolve()}: set AMENDS_DATA_DIR (or "
            "AMENDS_DATABASE_URL) to where `amends serve` keeps its data")
