"""Reads for the policy owner's workbench (filled in by its feature)."""

from __future__ import annotations

from sqlalchemy import Connection


class ReplayQueries:
    def __init__(self, connection: Connection):
        self._connection = connection
