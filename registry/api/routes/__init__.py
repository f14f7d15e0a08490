"""The ``/v1`` routers, one module per area."""

from __future__ import annotations

from typing import Any

from registry.api.schemas import ErrorBody

#: Error responses every route may give, documented with the one error body.
ERRORS: dict[int | str, dict[str, Any]] = {
    400: {
        "model": ErrorBody,
        "description": "Invalid input (ids, hashes, content that cannot be canonicalized, a malformed request).",
    },
    404: {"model": ErrorBody, "description": "Unknown office, batch or record."},
    422: {"model": ErrorBody, "description": "A parameter or body of the wrong shape."},
    500: {"model": ErrorBody, "description": "An internal error (the service log has the details)."},
    503: {"model": ErrorBody, "description": "The chain node cannot be reached, or too many open connections."},
}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The documented error responses for ``codes``."""
    described = {
        401: "Missing, unknown or revoked API token.",
        403: "The token belongs to another office.",
        408: "The request body did not arrive within the body read timeout.",
        409: "A conflicting operation (batch in progress, transaction would revert).",
        413: "Request body above this route's upload limit.",
        415: "Unsupported content type.",
        429: "Too many concurrent uploads or batch runs: retry after `Retry-After` seconds.",
        502: "The chain rejected or failed the operation.",
    }
    out = dict(ERRORS)
    for code in codes:
        entry: dict[str, Any] = {"model": ErrorBody, "description": described.get(code, "Error.")}
        if code == 429:
            entry["headers"] = {
                "Retry-After": {"description": "Seconds to wait before retrying.", "schema": {"type": "integer"}}
            }
        out[code] = entry
    return out


def inline(schema: dict[str, Any]) -> dict[str, Any]:
    """A pydantic JSON schema with its ``$defs`` references inlined (for ``openapi_extra`` bodies)."""
    defs = schema.get("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return resolve(defs[ref.rsplit("/", 1)[1]])
            return {k: resolve(v) for k, v in node.items() if k != "$defs"}
        if isinstance(node, list):
            return [resolve(v) for v in node]
        return node

    out: dict[str, Any] = resolve(schema)
    return out


def upload_body(
    properties: dict[str, Any], json_schema: dict[str, Any], encoding: dict[str, Any] | None = None
) -> dict[str, Any]:
    """``openapi_extra`` for a body that is a multipart upload (field ``file`` required, no other fields
    than ``properties``) or JSON (``json_schema``)."""
    multipart: dict[str, Any] = {
        "schema": {"type": "object", "properties": properties, "required": ["file"], "additionalProperties": False},
    }
    if encoding:
        multipart["encoding"] = encoding
    return {
        "requestBody": {
            "required": True,
            "content": {"multipart/form-data": multipart, "application/json": {"schema": json_schema}},
        },
    }
