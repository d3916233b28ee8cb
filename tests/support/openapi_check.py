"""Hold an answer to the OpenAPI document the service serves (3.0: `nullable` read as JSON
Schema's null type)."""

from __future__ import annotations

import jsonschema_rs


def _as_json_schema(node):
    if isinstance(node, list):
        return [_as_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {key: _as_json_schema(value) for key, value in node.items()
                 if key != "nullable"}
    if node.get("nullable"):
        return {"anyOf": [converted, {"type": "null"}]}
    return converted


def violations(spec: dict, path: str, method: str, status: int, body) -> list[str]:
    """What is wrong with `body` as the answer `status` to `method path`, as the document
    declares it (path as written in the document, such as /v1/decisions/{decision_id})."""
    responses = spec["paths"][path][method.lower()]["responses"]
    if str(status) not in responses:
        return [f"{status} is not declared for {method} {path}"]
    content = responses[str(status)].get("content", {})
    (media,) = content.values()
    schema = _as_json_schema({**media["schema"], "components": spec["components"]})
    validator = jsonschema_rs.validator_for(schema)
    return [str(error) for error in validator.iter_errors(body)]
