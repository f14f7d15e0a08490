"""The ``/v1`` routers, one module per area."""

from __future__ import annotations

from typing import Any

from ..schemas import ErrorBody

#: Error responses every route may give, documented with the one error body.
ERRORS: dict[int | str, dict[str, Any]] = {
    400: {
        "model": ErrorBody,
        "description": "Invalid input (ids, hashes, content that cannot be canonicalized).",
    },
    404: {"model": ErrorBody, "description": "Unknown office, batch or record."},
    422: {"model": ErrorBody, "description": "A parameter or body of the wrong shape."},
    503: {"model": ErrorBody, "description": "The chain node cannot be reached."},
}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The documented error responses for ``codes``."""
    described = {
        401: "Missing or unknown API token.",
        403: "The token belongs to another office.",
        409: "A conflicting operation (batch in progress, transaction would revert).",
        413: "Request body above the upload limit.",
        415: "Unsupported content type.",
        502: "The chain rejected or failed the operation.",
    }
    out = dict(ERRORS)
    for code in codes:
        out[code] = {"model": ErrorBody, "description": described.get(code, "Error.")}
    return out


def upload_body(properties: dict[str, Any], json_schema: dict[str, Any]) -> dict[str, Any]:
    """``openapi_extra`` for a body that is a multipart upload (field ``file`` required) or JSON."""
    return {
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {"type": "object", "properties": properties, "required": ["file"]},
                },
                "application/json": {"schema": json_schema},
            },
        },
    }
