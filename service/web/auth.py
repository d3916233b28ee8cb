"""Bearer credentials: API keys (the file holds only SHA-256 hashes, each mapped to a principal
and a role) and, when configured, JWTs from the organisation's identity provider."""

from __future__ import annotations

import hashlib
from pathlib import Path

import yaml
from flask import Flask, current_app, g, request

from service.app.errors import Forbidden
from service.config import ConfigError
from service.domain.principal import Principal
from service.web.errors import Unauthenticated
from service.web.tokens import TokenError, looks_like_jwt, principal_fault

API_PREFIX = "/v1/"
_FOUND = "amends.principal"


class KeyFileError(ConfigError, ValueError):
    """The API key file cannot be used: the service refuses to start."""


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class KeyRing:
    def __init__(self, principals_by_hash: dict[str, Principal]):
        self._by_hash = principals_by_hash
        self.principals = frozenset(p.id for p in principals_by_hash.values())

    @classmethod
    def load(cls, path: str | Path) -> KeyRing:
        try:
            document = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        except OSError as error:
            raise KeyFileError(f"cannot read API key file {path}: "
                               f"{error.strerror or error}") from None
        except UnicodeDecodeError as error:
            raise KeyFileError(f"API key file {path} is not UTF-8 text (byte {error.start} "
                               "cannot be read)") from None
        except yaml.YAMLError as error:
            raise KeyFileError(f"API key file {path} is not valid YAML: "
                               f"{_yaml_fault(error)}") from None
        entries = (document or {}).get("keys") if isinstance(document, dict) else None
        if not isinstance(entries, list):
            raise KeyFileError(f"{path}: expected a `keys:` list")
        by_hash = {}
        for number, entry in enumerate(entries, 1):
            if not isinstance(entry, dict) or not {"principal", "role", "sha256"} <= set(entry):
                raise KeyFileError(f"{path}: key {number} needs principal, role and sha256")
            if not isinstance(entry["sha256"], str):
                raise KeyFileError(f"{path}: key {number}: quote the sha256 so YAML keeps it text")
            digest = entry["sha256"].lower()
            if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
                raise KeyFileError(f"{path}: key {number}: sha256 must be 64 hex digits")
            principal = str(entry["principal"])
            fault = principal_fault(principal)
            if fault:
                raise KeyFileError(f"{path}: key {number}: the principal {fault}")
            by_hash[digest] = Principal(principal, str(entry["role"]))
        return cls(by_hash)

    def roles(self) -> set[str]:
        return {p.role for p in self._by_hash.values()}

    def find(self, key: str) -> Principal | None:
        return self._by_hash.get(hash_key(key))


def _yaml_fault(error: yaml.YAMLError) -> str:
    """What is wrong with a YAML document, and where, in one line (PyYAML's own message
    spans several, quoting the line and pointing under it)."""
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None) or str(error)
    context = getattr(error, "context", None)
    said = " ".join(f"{context + ', ' if context else ''}{problem}".split())
    return f"line {mark.line + 1}, column {mark.column + 1}: {said}" if mark else said


def authenticate() -> Principal:
    """The caller, from `Authorization: Bearer <key>`; never from the body. Found once a
    request (kept in the request's own environ: `g` may outlive a request)."""
    asked = request._get_current_object()  # read often: the proxy once (Speed, issue 14)
    known = asked.environ.get(_FOUND)
    if known is not None:
        return known
    header = asked.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("Send an API key as `Authorization: Bearer <key>`.")
    token = token.strip()
    extensions = current_app.extensions
    verifier = extensions.get("amends.tokens")
    state = g._get_current_object()
    # A key of the key file first, whatever its shape (one with two dots looks like a JWT).
    keys = extensions["amends.keys"]
    principal = keys.find(token)
    if principal is None:
        if verifier is None or not looks_like_jwt(token):
            raise Unauthenticated("The API key is not known.")
        try:
            principal = verifier.verify(token, state.active.policy.roles)
        except TokenError as error:
            raise Unauthenticated(f"Token refused: {error}.", invalid_token=True) from None
        if principal.id in keys.principals:  # one person's budget, requests and grants
            raise Unauthenticated(f"Token refused: its principal {principal.id!r} is an API "
                                  "key's holder; a token names another person.",
                                  invalid_token=True)
    state.principal = principal  # for the access log
    asked.environ[_FOUND] = principal
    return principal


_ACCESS = "amends_access"  # a view's attribute: who may call it (default: a defined role)
_OWNERS, _ANY_ROLE = "policy owners", "any role"


def owners_only(view):
    """Mark an API view for roles marked `policy_owner` or `admin` in roles.yaml."""
    setattr(view, _ACCESS, _OWNERS)
    return view


def any_role(view):
    """Mark an API view open to every authenticated caller, whether or not the active
    policy defines its role (what the policy is: the way to find out why a role is gone)."""
    setattr(view, _ACCESS, _ANY_ROLE)
    return view


def register(app: Flask) -> None:
    """Every API call (`/v1/...`) is authenticated, and the caller's role checked, before
    anything else of the request is read: a caller without a key learns it (401), and one
    whose role may not call the route learns that (403), before whether its body, query or
    path ids would do (4xx). A role the active policy no longer defines may call only
    `any_role` views; `owners_only` views need a role that owns the policy. The views ask
    `authenticate()` again, for the principal it found."""

    @app.before_request
    def _authenticate_api_calls():
        asked = request._get_current_object()
        if (asked.endpoint is None or not asked.path.startswith(API_PREFIX)
                or asked.method == "OPTIONS"):  # which methods a route takes is no secret
            return
        principal = authenticate()
        access = getattr(app.view_functions[asked.endpoint], _ACCESS, None)
        policy = g._get_current_object().active.policy
        if access == _OWNERS:
            require_policy_owner(principal, policy)
        elif access != _ANY_ROLE:
            require_policy_role(principal, policy)


def require_policy_owner(principal: Principal, policy) -> None:
    """Only roles marked `policy_owner` (or `admin`) in roles.yaml work on the policy (403)."""
    require_policy_role(principal, policy)
    if not policy.roles[principal.role].owns_policy:
        raise Forbidden(f"Role {principal.role!r} may not do this: only roles marked "
                        "`policy_owner: true` or `admin: true` in roles.yaml may.")


def require_policy_role(principal: Principal, policy) -> None:
    """A caller whose role the active policy no longer defines may not act (403)."""
    if principal.role not in policy.roles:
        raise Forbidden(f"Role {principal.role!r} is not defined by policy {policy.name}.")
