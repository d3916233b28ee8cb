"""OpenAPI description of what the views read and answer, errors and credentials included."""

from __future__ import annotations

import json

from flask import current_app, g, send_from_directory
from flask_smorest import Api, Blueprint
from swagger_ui_bundle import swagger_ui_path
from werkzeug.exceptions import NotFound

from schemas.problem import ProblemSchema
from service.web import path_ids
from service.web.policy_openapi import with_policy_vocabulary

PROBLEM_JSON = "application/problem+json"
SWAGGER_UI_PAGE = "/docs"
SWAGGER_UI_URL = "/docs/static/"
SECURITY = "bearerAuth"
ERRORS = {
    400: "Malformed JSON, or a bad header",
    401: "Missing, unknown, expired or mis-signed credentials",
    403: "Not allowed for the caller's role (for a grant: who may approve, and why)",
    404: "No such resource",
    405: "Not a method of this path: `Allow` names those that are (a decision's id is never "
         "`preview`, which only takes POST)",
    409: "Conflicts with what is stored (already decided or granted, an alternative)",
    413: "Body too large",
    414: "The request line is too long (over 4,094 bytes): answered by the server before "
         "Amends reads the request",
    415: "Body is not JSON",
    422: "Invalid input: `errors` names each field at fault",
    431: "Too many or too long headers: answered by the server before Amends reads the "
         "request",
    503: "The database is unavailable; retry later",
}


def _doc_only(*decorators):
    """flask-smorest's documenting decorators (alt_response, doc), their documentation kept
    on the view but not their wrappers, which only pass each call on (about 15 K
    instructions a call each, a dozen on some views: Speed, issue 14)."""
    def apply(view):
        documented = view
        for decorator in decorators:
            documented = decorator(documented)
        view._apidoc = documented._apidoc
        return view
    return apply


def problems(blueprint: Blueprint, *codes: int):
    """Document the problem answers an API route can give beside `codes`: every one can
    also give 401 (no or unknown credentials), 414 and 431 (gunicorn's limits on the request
    line and headers), 422 (a query argument given twice) and 503."""
    return _doc_only(*(blueprint.alt_response(code, schema=ProblemSchema,
                                              content_type=PROBLEM_JSON,
                                              description=ERRORS[code])
                       for code in sorted({*codes, 401, 414, 422, 431, 503})))


IDEMPOTENCY_KEY = {
    "in": "header", "name": "Idempotency-Key", "required": False,
    "schema": {"type": "string", "minLength": 1, "maxLength": 200},
    "description": "Makes a retry safe: the same key again, from the same caller, on the same "
                   "path with the same body, answers what the first call answered when it "
                   "succeeded, and does it once (a refused call is not kept: its repeat is "
                   "decided again); with another path or body it is a 422. 1 to 200 bytes (a "
                   "400 otherwise)."}


def idempotent_call(blueprint: Blueprint):
    """Document the Idempotency-Key header of a call that changes what is stored."""
    return _doc_only(blueprint.doc(parameters=[IDEMPOTENCY_KEY]))


def json_body(blueprint: Blueprint, schema, description: str, required: bool = True):
    return _doc_only(blueprint.doc(requestBody={
        "required": required, "description": description,
        "content": {"application/json": {"schema": schema}}}))


def public(blueprint: Blueprint):
    return blueprint.doc(security=[])


# What /docs loads of the package: not its sample page, which loads an outside document.
SWAGGER_UI_FILES = frozenset({"swagger-ui.css", "swagger-ui-bundle.js",
                              "swagger-ui-standalone-preset.js", "favicon-16x16.png",
                              "favicon-32x32.png"})


def serve_swagger_ui(app) -> None:
    """/docs works without a network: Swagger UI's files come from the installed package
    (those /docs loads, no others)."""
    def swagger_ui_file(filename: str):
        if filename not in SWAGGER_UI_FILES:
            raise NotFound()
        return send_from_directory(swagger_ui_path, filename, max_age=86400)

    app.add_url_rule(f"{SWAGGER_UI_URL}<path:filename>", "swagger_ui_file", swagger_ui_file)


def configure(app) -> dict:
    return {
        "API_TITLE": "Amends",
        "API_VERSION": "v1",
        "OPENAPI_VERSION": "3.0.3",
        "OPENAPI_URL_PREFIX": "/",
        "OPENAPI_JSON_PATH": "openapi.json",
        "OPENAPI_SWAGGER_UI_PATH": SWAGGER_UI_PAGE,
        "OPENAPI_SWAGGER_UI_URL": SWAGGER_UI_URL,
        "API_SPEC_OPTIONS": {
            "info": {"description": "Decides service-recovery compensation: outlook, steps, "
                                    "offers and who may grant them."},
            "security": [{SECURITY: []}],
        },
    }


class AmendsApi(Api):
    """Every error is a documented problem; no generic default error response. The document
    names the active policy's vocabulary (see policy_openapi)."""

    DEFAULT_ERROR_RESPONSE_NAME = None

    def _openapi_json(self):
        spec = with_policy_vocabulary(self.spec.to_dict(), g.active.policy)
        path_ids.document(spec)
        # What a schema-level check of marshmallow says, in the document's words: a
        # candidate names a stored version or a folder, exactly one.
        spec["components"]["schemas"]["ReplayCandidate"].update(minProperties=1,
                                                                maxProperties=1)
        return current_app.response_class(json.dumps(spec, indent=2),
                                          mimetype="application/json")


def register_security(api: Api) -> None:
    api.spec.components.security_scheme(SECURITY, {
        "type": "http", "scheme": "bearer",
        "description": "An API key, or a JWT from the organisation's identity provider"})
