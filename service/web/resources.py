"""What a request works with: the policy it was pinned to, the store, the reload holder."""

from __future__ import annotations

from flask import current_app, g

from service.app.active_policy import ActivePolicy
from service.app.policy_reload import PolicyHolder
from service.store.database import Store


def active_policy() -> ActivePolicy:
    """The policy this request started with (pinned until it ends)."""
    return g.active


def holder() -> PolicyHolder:
    return current_app.extensions["amends.holder"]


def store() -> Store:
    return current_app.extensions["amends.store"]
