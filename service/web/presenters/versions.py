"""Policy versions, refused attempts, diffs and rollbacks (`schemas.versions`)."""

from __future__ import annotations

from service.app.policy_activation import Outcome
from service.app.policy_versions import (
    RefusalPage,
    Rollback,
    VersionDetail,
    VersionPage,
    VersionsCompared,
    VersionSummary,
)
from service.domain.records import PolicyActivation
from service.policy.diff import Change, Section
from service.store.policy_queries import RefusalEntry
from service.web.presenters import moment_json


def activation_json(activation: PolicyActivation) -> dict:
    return {"activated_by": activation.activated_by,
            "activated_at": moment_json(activation.activated_at), "via": activation.via}


def _summary_json(version: str, name: str, active: bool, first_by: str, first_at,
                  activations: tuple[PolicyActivation, ...]) -> dict:
    return {"version": version, "name": name, "active": active,
            "first_activated_by": first_by, "first_activated_at": moment_json(first_at),
            "last_activated_at": moment_json(activations[0].activated_at if activations
                                             else first_at),
            "activations": [activation_json(a) for a in activations]}


def version_summary_json(summary: VersionSummary) -> dict:
    entry = summary.entry
    return _summary_json(entry.version, entry.name, summary.active, entry.activated_by,
                         entry.activated_at, summary.activations)


def version_page_json(page: VersionPage) -> dict:
    return {"active_version": page.active_version,
            "versions": [version_summary_json(summary) for summary in page.versions],
            "next_cursor": page.next_cursor}


def version_json(detail: VersionDetail) -> dict:
    stored = detail.stored
    return {**_summary_json(stored.version, stored.name, detail.active, stored.activated_by,
                            stored.activated_at, detail.activations),
            "files": dict(sorted(stored.files.items()))}


def refusal_json(entry: RefusalEntry) -> dict:
    refused = entry.refused
    return {"version": refused.version, "refused_by": entry.refused_by,
            "refused_at": moment_json(refused.at), "via": refused.trigger,
            "reasons": list(refused.reasons)}


def refusal_page_json(page: RefusalPage) -> dict:
    return {"refusals": [refusal_json(entry) for entry in page.refusals],
            "next_cursor": page.next_cursor}


def change_json(change: Change, subject: str | None = None) -> dict:
    return {"what": change.what, "change": change.kind, "old": change.old, "new": change.new,
            "sentence": change.sentence(subject)}


def section_json(section: Section) -> dict:
    return {
        "added": [{"name": item.name, "summary": item.summary} for item in section.added],
        "removed": [{"name": item.name, "summary": item.summary} for item in section.removed],
        "changed": [{"name": item.name,
                     "changes": [change_json(change, f"{section.noun} {item.name}")
                                 for change in item.changes]}
                    for item in section.changed],
    }


def diff_json(compared: VersionsCompared) -> dict:
    found = compared.diff
    return {"old": {"version": compared.old.version, "name": compared.old.name},
            "new": {"version": compared.new.version, "name": compared.new.name},
            "changed": not found.empty,
            "lines": found.lines(),
            "rules": section_json(found.rules),
            "roles": section_json(found.roles),
            "settings": [change_json(change) for change in found.settings]}


def rollback_json(rollback: Rollback) -> dict:
    """The version that serves now, and its last activation (a version that was active
    already keeps the activation it had)."""
    active = rollback.active
    return {"changed": rollback.activation.outcome == Outcome.ACTIVATED,
            "version": rollback.activation.version, "name": rollback.name,
            "activation": None if active is None else activation_json(active)}
