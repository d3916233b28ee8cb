"""The Flask application factory: one Amends API from one Settings."""

from __future__ import annotations

from flask import Flask, g

from schemas.fields import MoneyAmount
from service.app import metrics
from service.app.active_policy import ActivePolicy
from service.app.policy_reload import PolicyHolder
from service.config import ConfigError, Settings
from service.store.database import Store
from service.web import access_log, errors, openapi, path_ids
from service.web.auth import KeyRing
from service.web.routes import approvals, customers, decisions, health, offers, policy
from service.web.tokens import TokenVerifier


def create_app(settings: Settings, active_policy: ActivePolicy | None = None,
               store: Store | None = None, tokens: TokenVerifier | None = None) -> Flask:
    """`active_policy`, `store` and `tokens` default to what `settings` name; tests pass
    their own to share them between apps."""
    access_log.configure_logging()
    app = Flask("amends")
    app.config.update(MAX_CONTENT_LENGTH=settings.max_body_bytes, **openapi.configure(app))
    app.json.sort_keys = False  # keep the contract's field order
    if settings.api_keys_file is None:
        raise ConfigError("No API key file: set AMENDS_API_KEYS_FILE (the development keys "
                          "are used only from a development checkout, through ./dev).")
    active = active_policy or ActivePolicy.load(settings.policy_dir)
    keys = KeyRing.load(settings.api_keys_file)
    unknown = sorted(keys.roles() - set(active.policy.roles))
    if unknown:
        raise ConfigError(f"API keys name roles the policy {active.policy.name} does not "
                          f"define: {', '.join(unknown)}")
    store = store or Store(settings.database_url)
    store.check_schema()
    state_file = settings.runtime_dir / "policy-state.json" if settings.runtime_dir else None
    holder = PolicyHolder(active, active.policy.directory, state_file)
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
        g.active = holder.acquire()

    @app.teardown_request
    def _unpin_policy(_error):
        active_now = g.pop("active", None)
        if active_now is not None:
            holder.release(active_now)

    api = openapi.AmendsApi(app)
    openapi.register_security(api)
    api.register_field(MoneyAmount, "string", None)
    openapi.serve_swagger_ui(app)
    for routes in (decisions, offers, approvals, customers, policy, health):
        api.register_blueprint(routes.blueprint)
    errors.register(app)  # after Api(), so its HTTP error handler is replaced
    access_log.register(app)
    path_ids.register(app)  # after the access log starts its clock
    return app
