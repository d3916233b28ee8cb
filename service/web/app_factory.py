"""The Flask application factory: one Amends API from one Settings."""

from __future__ import annotations

from pathlib import Path

from flask import Flask, g, request

from schemas.fields import MoneyAmount
from service.app import metrics, policy_reload
from service.app.active_policy import ActivePolicy
from service.app.policy_activation import load_limit
from service.config import ConfigError, Settings
from service.store.database import Store
from service.web import (
    access_log,
    auth,
    deadline,
    errors,
    headers,
    openapi,
    path_ids,
    query_args,
)
from service.web.auth import KeyRing
from service.web.json_provider import OrjsonProvider
from service.web.routes import (
    approvals,
    customers,
    decision_log,
    decisions,
    health,
    me,
    offers,
    page,
    policy,
    replay,
    reports,
    versions,
)
from service.web.tokens import TokenVerifier

# Never wait on the database for these: health, metrics, and the page's static files.
_NO_FOLLOW = frozenset({"health.healthz", "health.metrics_view", "page.index", "page.asset"})


def create_app(settings: Settings, active_policy: ActivePolicy | None = None,
               store: Store | None = None, tokens: TokenVerifier | None = None) -> Flask:
    """`active_policy`, `store` and `tokens` default to what `settings` name; tests pass
    their own to share them between apps."""
    access_log.configure_logging()
    app = Flask("amends")
    app.config.update(MAX_CONTENT_LENGTH=settings.max_body_bytes, **openapi.configure(app))
    app.json = OrjsonProvider(app)  # orjson; the contract's field order (no sort_keys)
    if settings.api_keys_file is None:
        raise ConfigError("No API key file: set AMENDS_API_KEYS_FILE (the development keys "
                          "are used only from a development checkout, through ./dev).")
    keys = KeyRing.load(settings.api_keys_file)
    if active_policy is not None:
        _check_key_roles(keys, active_policy)
    store = store or Store(settings.database_url, settings.database_timeout_seconds)
    store.check_schema()
    store.check_writable()
    runtime = settings.runtime_dir
    holder = policy_reload.start(
        store,
        Path(active_policy.policy.directory) if active_policy else settings.policy_dir,
        loaded=active_policy,
        state_file=runtime / "policy-state.json" if runtime else None,
        work_dir=runtime / "policies" if runtime else None,
        poll_seconds=settings.policy_poll_seconds,
        check=lambda candidate: _check_key_roles(keys, candidate),  # before it is activated
        load_limit=load_limit(settings.worker_timeout_seconds))
    active = holder.current
    metrics.policy_active(active.policy.name, active.policy.version)
    app.extensions.update({
        "amends.settings": settings,
        "amends.holder": holder,
        "amends.keys": keys,
        "amends.store": store,
        "amends.tokens": tokens or TokenVerifier.from_settings(settings.jwt),
    })

    @app.before_request
    def _pin_policy():
        # Liveness and metrics never wait on the database: they skip following.
        g.active = holder.acquire(follow=request.endpoint not in _NO_FOLLOW)

    @app.teardown_request
    def _unpin_policy(_error):
        active_now = g.pop("active", None)
        if active_now is not None:
            holder.release(active_now)

    api = openapi.AmendsApi(app)
    path_ids.register_converter(app, api)
    openapi.register_security(api)
    api.register_field(MoneyAmount, "string", None)
    openapi.serve_swagger_ui(app)
    app.register_blueprint(page.blueprint)  # the policy owners' page at /, not API
    for routes in (decisions, decision_log, offers, approvals, customers, policy, versions,
                   replay, reports, me, health):
        api.register_blueprint(routes.blueprint)
    errors.register(app)  # after Api(), so its HTTP error handler is replaced
    deadline.register(app, store)  # every database wait of a request within one bound
    access_log.register(app)
    headers.register(app)
    auth.register(app)  # before anything is read
    path_ids.register(app)
    query_args.register(app)
    return app


def _check_key_roles(keys: KeyRing, active: ActivePolicy) -> None:
    unknown = sorted(keys.roles() - set(active.policy.roles))
    if unknown:
        raise ConfigError(f"API keys name roles the policy {active.policy.name} does not "
                          f"define: {', '.join(unknown)}")
