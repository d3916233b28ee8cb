"""Policy versions: the files of every activated version, which one is active, the attempts
that were refused, and the stored work a new version must not orphan.

The active version is the one named by the last activation. Workers ask for it every
`policy_poll_seconds` through `active_version`, a plain read that takes no lock.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Select, and_, bindparam, func, insert, or_, select

from service.domain.records import (
    OpenWork,
    PolicyActivation,
    RefusedReload,
    StoredPolicyVersion,
)
from service.domain.vocabulary import OfferState, OfferVariant, RequestState
from service.store import clock, keyset
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
_VERSION_LIST = select(VERSIONS.c.version, VERSIONS.c.name, VERSIONS.c.activated_by,
                       VERSIONS.c.activated_at)
_ACTIVATIONS_OF = (select(ACTIVATIONS)
                   .where(ACTIVATIONS.c.version.in_(bindparam("versions", expanding=True)))
                   .order_by(ACTIVATIONS.c.id.desc()))

_GRANT = GRANTS.alias("grant_on_decision")
_GRANTED = OFFERS.alias("granted_offer")
# An offer no version could ever grant: a grant on its decision excludes it whatever the
# policy says (service.app.grants.check_combination): a grant of its own remedy kind, or of
# the offer it is the capped variant of, or of its own capped variant. A capped variant is
# stored numbered right after its original (decision.with_approvals, since the first
# release), as `capped_from` in the decision's `result` says: the columns tell the pair.
_EXCLUDED = (select(_GRANT.c.id)
             .join(_GRANTED, _GRANTED.c.id == _GRANT.c.offer_id)
             .where(_GRANT.c.decision_id == OFFERS.c.decision_id,
                    or_(_GRANT.c.remedy == OFFERS.c.remedy,
                        and_(OFFERS.c.variant == OfferVariant.CAPPED.value,
                             _GRANTED.c.number == OFFERS.c.number - 1),
                        and_(_GRANTED.c.variant == OfferVariant.CAPPED.value,
                             _GRANTED.c.number == OFFERS.c.number + 1)))
             .correlate(OFFERS).exists())
# Offers still to finish: proposed or awaiting approval, and not excluded by a grant.
_OPEN = and_(OFFERS.c.state.notin_([OfferState.GRANTED.value, OfferState.REJECTED.value]),
             ~_EXCLUDED)
_PENDING = REQUESTS.c.status == RequestState.PENDING.value
_PENDING_BY_APPROVER = (select(REQUESTS.c.approver_role, func.count()).where(_PENDING)
                        .group_by(REQUESTS.c.approver_role))
_PENDING_BY_REQUESTER = (select(REQUESTS.c.requested_role, func.count()).where(_PENDING)
                         .group_by(REQUESTS.c.requested_role))
_OPEN_BY_CURRENCY = (select(OFFERS.c.currency, func.count()).where(_OPEN)
                     .group_by(OFFERS.c.currency))
_OPEN_BY_REMEDY = select(OFFERS.c.remedy, func.count()).where(_OPEN).group_by(OFFERS.c.remedy)
# From each grant to its decision's offers (there are far fewer grants than offers).
_OPEN_ON_DECISION_OF_GRANT = (select(OFFERS.c.id)
                              .where(OFFERS.c.decision_id == GRANTS.c.decision_id, _OPEN)
                              .correlate(GRANTS).exists())
_GRANTS_BESIDE_OPEN = (select(GRANTS.c.remedy, func.count())
                       .where(_OPEN_ON_DECISION_OF_GRANT).group_by(GRANTS.c.remedy))
_GRANTS_BY_CURRENCY = select(GRANTS.c.currency, func.count()).group_by(GRANTS.c.currency)

# The work each count above counts, by the count's name (OpenWork's field): its key column
# and the decision it is on, to name the decisions where it is.
_PENDING_ON = (select(REQUESTS.c.approver_role, REQUESTS.c.requested_role,
                      OFFERS.c.decision_id)
               .join(OFFERS, OFFERS.c.id == REQUESTS.c.offer_id).where(_PENDING).subquery())
_OPEN_ON = select(OFFERS.c.currency, OFFERS.c.remedy, OFFERS.c.decision_id).where(
    _OPEN).subquery()
_BESIDE_ON = select(GRANTS.c.remedy, GRANTS.c.decision_id).where(
    _OPEN_ON_DECISION_OF_GRANT).subquery()
_WORK_ON = {
    "pending_by_approver_role": (_PENDING_ON, _PENDING_ON.c.approver_role),
    "pending_by_requester_role": (_PENDING_ON, _PENDING_ON.c.requested_role),
    "open_offers_by_currency": (_OPEN_ON, _OPEN_ON.c.currency),
    "open_offers_by_remedy": (_OPEN_ON, _OPEN_ON.c.remedy),
    "grants_beside_open_offers_by_remedy": (_BESIDE_ON, _BESIDE_ON.c.remedy),
    "grants_by_currency": (GRANTS, GRANTS.c.currency),
}
EXAMPLES = 3  # decisions named in a reason


def _decisions_with(count: str) -> Select:
    """The first EXAMPLES decisions (in id order) that the work `count` counts for the key
    :key is on, each with how many decisions it is on in all."""
    work, key = _WORK_ON[count]
    on = select(work.c.decision_id).where(key == bindparam("key")).distinct().subquery()
    return (select(on.c.decision_id, func.count().over().label("decisions"))
            .order_by(on.c.decision_id).limit(EXAMPLES))


_DECISIONS_WITH = {count: _decisions_with(count) for count in _WORK_ON}


@dataclass(frozen=True)
class VersionEntry:
    """A stored version in a list: its name and its first activation (no files)."""

    version: str
    name: str
    activated_by: str
    activated_at: datetime


@dataclass(frozen=True)
class RefusalEntry:
    """A refused attempt to activate a version: who tried, and what and why."""

    id: int
    refused_by: str
    refused: RefusedReload


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

    def versions_page(self, position: keyset.Position,
                      limit: int) -> tuple[list[VersionEntry], keyset.Position]:
        """Stored versions, newest first activation first, a page at a time."""
        rows, next_position = keyset.page(self._connection, _VERSION_LIST,
                                          VERSIONS.c.activated_at, VERSIONS.c.version,
                                          position, limit)
        return [VersionEntry(row.version, row.name, row.activated_by,
                             clock.aware(row.activated_at)) for row in rows], next_position

    def activations_of(self, versions: Sequence[str]) -> dict[str, list[PolicyActivation]]:
        """Every activation of these versions, newest first, by version."""
        found: dict[str, list[PolicyActivation]] = {version: [] for version in versions}
        if versions:
            for row in self._connection.execute(_ACTIVATIONS_OF,
                                                {"versions": list(versions)}):
                found[row.version].append(PolicyActivation(
                    row.version, row.activated_by, row.via, clock.aware(row.activated_at)))
        return found

    def refusals_page(self, position: keyset.Position,
                      limit: int) -> tuple[list[RefusalEntry], keyset.Position]:
        """Refused attempts, newest first, a page at a time (in the order they were
        recorded). Raises keyset.CursorInvalid for a position no page gave."""
        if position is keyset.ENDED:
            return [], keyset.ENDED
        query = select(REFUSALS).order_by(REFUSALS.c.id.desc()).limit(limit + 1)
        if position is not keyset.START:
            try:
                after = int(position[1])
            except ValueError:
                raise keyset.CursorInvalid() from None
            query = query.where(REFUSALS.c.id < after)
        rows = self._connection.execute(query).all()
        entries = [RefusalEntry(row.id, row.refused_by, RefusedReload(
            row.version, clock.aware(row.refused_at), row.via, tuple(row.reasons)))
            for row in rows[:limit]]
        if len(rows) <= limit:
            return entries, keyset.ENDED
        last = entries[-1]
        return entries, (last.refused.at, str(last.id))

    def open_work(self) -> OpenWork:
        def counts(query) -> dict[str, int]:
            return {key: count for key, count in self._connection.execute(query)}

        return OpenWork(
            pending_by_approver_role=counts(_PENDING_BY_APPROVER),
            pending_by_requester_role=counts(_PENDING_BY_REQUESTER),
            open_offers_by_currency=counts(_OPEN_BY_CURRENCY),
            open_offers_by_remedy=counts(_OPEN_BY_REMEDY),
            grants_beside_open_offers_by_remedy=counts(_GRANTS_BESIDE_OPEN),
            grants_by_currency=counts(_GRANTS_BY_CURRENCY))

    def decisions_with(self, count: str, key: str) -> tuple[int, tuple[str, ...]]:
        """Where the work that `open_work` counts in `count` (an OpenWork field's name) for
        `key` is: how many decisions it is on, and the first EXAMPLES of their ids, in id
        order. Asked only for work a version would orphan, to name it."""
        rows = self._connection.execute(_DECISIONS_WITH[count], {"key": key}).all()
        return (int(rows[0].decisions) if rows else 0), tuple(row.decision_id for row in rows)


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
