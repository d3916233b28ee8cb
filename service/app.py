"""The Flask application factory."""

from __future__ import annotations

import os
from pathlib import Path

from flask import Flask, g

from schemas.fields import MoneyAmount
from service import metrics
from service.api import access_log, openapi, problems
from service.api.auth import DEV_KEYS, KeyRing
from service.api.grants import grants as grants_blueprint
from service.api.tokens import TokenVerifier
from service.api.views import api as api_blueprint
from service.api.views import health as health_blueprint
from service.reloading import PolicyHolder, state_file_from_environment
from service.runtime import ActivePolicy, default_policy_dir
from service.store.database import Store

DEFAULT_MAX_BODY = 64 * 1024


class ConfigError(RuntimeError):
    pass


def create_app(policy_dir: str | Path | None = None, keys_file: str | Path | None = None,
               active_policy: ActivePolicy | None = None, store: Store | None = None,
               tokens: TokenVerifier | None = None) -> Flask:
    access_log.configure_logging()
    app = Flask("amends")
    app.config.update(
        MAX_CONTENT_LENGTH=int(os.environ.get("AMENDS_MAX_BODY_BYTES", DEFAULT_MAX_BODY)),
        **openapi.configure(app),
    )
    app.json.sort_keys = False  # keep the contract's field order
    active = active_policy or ActivePolicy.load(policy_dir or default_policy_dir())
    keys = KeyRing.load(keys_file or os.environ.get("AMENDS_API_KEYS_FILE") or DEV_KEYS)
    unknown = sorted(keys.roles() - set(active.policy.roles))
    if unknown:
        raise ConfigError(f"API keys name roles the policy {active.policy.name} does not "
                          f"define: {', '.join(unknown)}")
    store = store or Store()
    store.check_schema()
    holder = PolicyHolder(active, active.policy.directory, state_file_from_environment())
    app.extensions["amends.holder"] = holder
    metrics.policy_active(active.policy.name, active.policy.version)
    app.extensions["amends.keys"] = keys
    app.extensions["amends.store"] = store
    app.extensions["amends.tokens"] = tokens or TokenVerifier.from_environment()

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
    api.register_blueprint(api_blueprint)
    api.register_blueprint(grants_blueprint)
    api.register_blueprint(health_blueprint)
    problems.register(app)  # after Api(), so its HTTP error handler is replaced
    access_log.register(app)
    return app
