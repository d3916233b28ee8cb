"""Policy versions: the files of every activated version, which one is active, the attempts
that were refused, and the stored work a new version must not orphan.

The active version is the one named by the last activation. Workers ask for it every
`policy_poll_seconds` through `active_version`, a plain read that takes no lock.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from sqlalchemy import Connection, bindparam, func, insert, select

from service.domain.records import (
    OpenWork,
    PolicyActivation,
    RefusedReload,
    StoredPolicyVersion,
)
from service.domain.vocabulary import OfferState, RequestState
from service.store import clock
from service.store.database import Store, is_sqlite
from service.store.errors import translated
from service.store.models import (
    ApprovalRequestRow,
    GrantRow,
    OfferRow,
    PolicyActivationRow,
    PolicyRefusalRow,
    PolicyVersionRow,
)

VERSIONS = PolicyVersionRow.__table__
ACTIVATIONS = PolicyActivationRow.__table__
REFUSALS = PolicyRefusalRow.__table__
OFFERS = OfferRow.__table__
REQUESTS = ApprovalRequestRow.__table__
GRANTS = GrantRow.__table__

_ACTIVE = (select(ACTIVATIONS.c.version, ACTIVATIONS.c.activated_by, ACTIVATIONS.c.via,
                  ACTIVATIONS.c.activated_at)
           .order_by(ACTIVATIONS.c.id.desc()).limit(1))
_ACTIVE_VERSION = select(ACTIVATIONS.c.version).order_by(ACTIVATIONS.c.id.desc()).limit(1)
_ACTIVE_VERSION_SQL = "SELECT version FROM policy_activations ORDER BY id DESC LIMIT 1"
_VERSION = select(VERSIONS).where(VERSIONS.c.version == bindparam("version"))
_KNOWN = select(VERSIONS.c.version).where(VERSIONS.c.version == bindparam("version"))
_ADD_VERSION = insert(VERSIONS)
_ACTIVATE = insert(ACTIVATIONS)
_REFUSE = insert(REFUSALS)
_REFUSALS = select(REFUSALS).order_by(REFUSALS.c.id.desc()).limit(bindparam("limit"))

_OPEN = OFFERS.c.state.notin_([OfferState.GRANTED.value, OfferState.REJECTED.value])
_PENDING = REQUESTS.c.status == RequestState.PENDING.value
_PENDING_BY_APPROVER = (select(REQUESTS.c.approver_role, func.count()).where(_PENDING)
                        .group_by(REQUESTS.c.approver_role))
_PENDING_BY_REQUESTER = (select(REQUESTS.c.requested_role, func.count()).where(_PENDING)
                         .group_by(REQUESTS.c.requested_role))
_OPEN_BY_CURRENCY = (select(OFFERS.c.currency, func.count()).where(_OPEN)
                     .group_by(OFFERS.c.currency))
_OPEN_BY_REMEDY = select(OFFERS.c.remedy, func.count()).where(_OPEN).group_by(OFFERS.c.remedy)
_GRANTS_BESIDE_OPEN = (select(GRANTS.c.remedy, func.count())
                       .where(GRANTS.c.decision_id.in_(select(OFFERS.c.decision_id)
                                                       .where(_OPEN)))
                       .group_by(GRANTS.c.remedy))


class PolicyQueries:
    def __init__(self, connection: Connection):
        self._connection = connection

    def active(self) -> PolicyActivation | None:
        row = self._connection.execute(_ACTIVE).one_or_none()
        return None if row is None else PolicyActivation(
            row.version, row.activated_by, row.via, clock.aware(row.activated_at))

    def version(self, version: str) -> StoredPolicyVersion | None:
        row = self._connection.execute(_VERSION, {"version": version}).one_or_none()
        return None if row is None else StoredPolicyVersion(
            row.version, row.name, dict(row.files), row.activated_by,
            clock.aware(row.activated_at))

    def activate(self, version: str, name: str, files: Mapping[str, str], by: str, via: str,
                 moment: datetime) -> PolicyActivation:
        """Store the version's files (the first time it is activated) and make it the active
        one. Call it under the unit of work's `policy` lock, so activations never interleave."""
        if self._connection.execute(_KNOWN, {"version": version}).one_or_none() is None:
            self._connection.execute(_ADD_VERSION, dict(
                version=version, name=name, files=dict(files), activated_by=by,
                activated_at=moment))
        self._connection.execute(_ACTIVATE, dict(version=version, activated_by=by, via=via,
                                                 activated_at=moment))
        return PolicyActivation(version, by, via, moment)

    def refuse(self, version: str | None, reasons: Sequence[str], by: str, via: str,
               moment: datetime) -> None:
        self._connection.execute(_REFUSE, dict(version=version, reasons=list(reasons),
                                               refused_by=by, via=via, refused_at=moment))

    def refusals(self, limit: int = 20) -> list[tuple[str, RefusedReload]]:
        """The latest refused attempts, newest first: (who, what and why)."""
        return [(row.refused_by, RefusedReload(row.version, clock.aware(row.refused_at),
                                               row.via, tuple(row.reasons)))
                for row in self._connection.execute(_REFUSALS, {"limit": limit})]

    def open_work(self) -> OpenWork:
        def counts(query) -> dict[str, int]:
            return {key: count for key, count in self._connection.execute(query)}

        return OpenWork(
            pending_by_approver_role=counts(_PENDING_BY_APPROVER),
            pending_by_requester_role=counts(_PENDING_BY_REQUESTER),
            open_offers_by_currency=counts(_OPEN_BY_CURRENCY),
            open_offers_by_remedy=counts(_OPEN_BY_REMEDY),
            grants_beside_open_offers_by_remedy=counts(_GRANTS_BESIDE_OPEN))


def active_version(store: Store) -> str | None:
    """The active version, as every worker polls it: one indexed read, no transaction (on
    SQLite no write lock either). Raises DatabaseUnavailable when the database does not
    answer."""
    if is_sqlite(store.url):
        # A driver-level read: SQLAlchemy would begin (BEGIN IMMEDIATE, the write lock).
        with translated():
            connection = store.engine.raw_connection()
            try:
                cursor = connection.cursor()
                try:
                    row = cursor.execute(_ACTIVE_VERSION_SQL).fetchone()
                finally:
                    cursor.close()
            finally:
                connection.close()
        return None if row is None else row[0]
    with translated(), store.engine.connect() as connection:
        return connection.execute(_ACTIVE_VERSION).scalar_one_or_none()
