"""The ``/v1`` routers, one module per area."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from registry.api.schemas import ErrorBody

#: Error responses every route may give, documented with the one error body.
ERRORS: dict[int | str, dict[str, Any]] = {
    400: {
        "model": ErrorBody,
        "description": "Invalid input (ids, hashes, content that cannot be canonicalized, a malformed request).",
    },
    404: {"model": ErrorBody, "description": "Unknown office, batch or record."},
    422: {"model": ErrorBody, "description": "A parameter or body of the wrong shape."},
    429: {
        "model": ErrorBody,
        "description": "Too many requests of this client in progress: retry after `Retry-After` seconds.",
        "headers": {"Retry-After": {"description": "Seconds to wait before retrying.", "schema": {"type": "integer"}}},
    },
    500: {"model": ErrorBody, "description": "An internal error (the service log has the details)."},
    503: {
        "model": ErrorBody,
        "description": "The chain node does not answer within the read budget and the index cannot answer"
        " either, or too many open connections: retry after `Retry-After` seconds.",
        "headers": {"Retry-After": {"description": "Seconds to wait before retrying.", "schema": {"type": "integer"}}},
    },
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


#: The largest signed 64-bit integer: the bound of every uint64/int64 field of the schemas. FastAPI's OpenAPI
#: model keeps ``maximum`` as a float, which rounds it to 2**63; the document must carry the exact integer.
INT64_MAX = 2**63 - 1
_BOUNDS = ("maximum", "minimum", "exclusiveMaximum", "exclusiveMinimum")


def exact_integers(node: Any) -> Any:
    """The OpenAPI document with integral numeric bounds as exact integers (2**63 back to 2**63 - 1)."""
    if isinstance(node, dict):
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key in _BOUNDS and isinstance(value, float) and value.is_integer():
                value = INT64_MAX if value == float(INT64_MAX) else int(value)
            out[key] = exact_integers(value)
        return out
    if isinstance(node, list):
        return [exact_integers(v) for v in node]
    return node


def install_exact_openapi(app: FastAPI) -> None:
    """Serve ``/openapi.json`` with exact integer bounds (see :func:`exact_integers`)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = exact_integers(build())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
