"""The service's error types and the handlers that give every error one body shape.

Every error, whether raised by the registry, by FastAPI's validation or by routing (404, 405),
is answered as ``{"error": {"code": "...", "message": "..."}}``; FastAPI's default
``{"detail": ...}`` never appears.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from registry.errors import AuthError, ConfigError, ForbiddenError, InputError, NodeUnavailableError, RegistryError

log = logging.getLogger("registry.api")


class PayloadTooLargeError(InputError):
    """A request body above the service's upload limit."""

    code = "payloadTooLarge"
    http_status = 413


class UnsupportedMediaTypeError(InputError):
    """A request body of a content type the endpoint does not take."""

    code = "unsupportedMediaType"
    http_status = 415


class MalformedJsonError(InputError):
    """A request body that is not valid JSON."""

    code = "malformedJson"


class OfficeNotServedError(RegistryError):
    """This service instance holds no usable signing key for the office."""

    code = "officeNotServed"
    http_status = 503


class TooBusyError(RegistryError):
    """More concurrent uploads or batch runs than the service takes; retry after ``retry_after`` s."""

    code = "tooBusy"
    http_status = 429

    def __init__(self, message: str, retry_after: int = 2) -> None:
        super().__init__(message)
        self.retry_after = max(1, int(retry_after))


class RequestTimeoutError(InputError):
    """A request body that did not arrive within the body read timeout."""

    code = "requestTimeout"
    http_status = 408


class NotAnchoredYetError(RegistryError):
    """A sealed record whose batch is not anchored yet cannot be revealed."""

    code = "notAnchoredYet"
    http_status = 409


class BatchInProgressError(RegistryError):
    """Another batch of the same office is being anchored right now."""

    code = "batchInProgress"
    http_status = 409


_CODES = {
    400: "badRequest",
    401: "unauthorised",
    403: "forbidden",
    408: "requestTimeout",
    404: "notFound",
    405: "methodNotAllowed",
    406: "notAcceptable",
    409: "conflict",
    413: "payloadTooLarge",
    415: "unsupportedMediaType",
    422: "invalidRequest",
    429: "tooManyRequests",
    500: "internal",
    503: "unavailable",
}


def error_body(code: str, message: str) -> dict[str, Any]:
    """The one error body of the API."""
    return {"error": {"code": code, "message": message}}


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """A JSON response carrying the error body."""
    return JSONResponse(error_body(code, message), status_code=status, headers=headers)


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "error"


async def _registry_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RegistryError)
    headers = (
        {"WWW-Authenticate": "Bearer"} if isinstance(exc, AuthError) and not isinstance(exc, ForbiddenError) else None
    )
    if isinstance(exc, TooBusyError):
        headers = {"Retry-After": str(exc.retry_after)}
    elif isinstance(exc, NodeUnavailableError):  # the node stalls and the index cannot answer: come back soon
        headers = {"Retry-After": "2"}
    elif exc.http_status in (408, 413):  # the rest of the body is not read: this connection is done
        headers = {"Connection": "close"}
    if exc.http_status >= 500:
        log.warning("%s %s: %s", request.method, request.url.path, exc.diagnostics())
    return error_response(exc.http_status, exc.code, public_message(exc), headers)


def public_message(exc: RegistryError) -> str:
    """What a client may read: node and configuration errors name no endpoint (the log has the detail)."""
    if isinstance(exc, NodeUnavailableError):
        return "the chain node cannot be reached; try again later"
    if isinstance(exc, ConfigError):
        return "the service is not configured for this request; the service log has the details"
    return exc.diagnostics()


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    status = exc.status_code
    message = exc.detail if isinstance(exc.detail, str) and exc.detail else _reason(status)
    if status == 404 and message == "Not Found":
        message = f"no resource at {request.url.path}"
    elif status == 405 and message == "Method Not Allowed":
        message = f"method {request.method} is not allowed on {request.url.path}"
    return error_response(status, _CODES.get(status, "httpError"), message, dict(exc.headers or {}) or None)


def _location(loc: Any) -> str:
    parts = [str(p) for p in loc if p not in ("body",)] if isinstance(loc, list | tuple) else [str(loc)]
    return ".".join(parts) or "body"


#: What a malformed id parameter should look like (instead of echoing a long pattern), and its error code.
_RECORD_ID = "a record id OFFICE:NUMBER[:KIND] (WIPO ST.3 office, capitals), e.g. EP:1234567:B1"
_ID_FIELDS: dict[str, tuple[str, str]] = {
    "code": ("a WIPO ST.3 office code in capitals, e.g. EP", "invalidInput"),
    "office": ("a WIPO ST.3 office code in capitals, e.g. EP", "invalidInput"),
    "record_id": (
        "a record id OFFICE:NUMBER[:KIND] (WIPO ST.3 office, capitals), e.g. EP:1234567:B1",
        "invalidRecordId",
    ),
    "recordId": (
        "a record id OFFICE:NUMBER[:KIND] (WIPO ST.3 office, capitals), e.g. EP:1234567:B1",
        "invalidRecordId",
    ),
    "root": ("a batch root: 0x followed by 64 hex digits", "invalidInput"),
    "name": ("a manifest name: 0x followed by 64 hex digits and .json", "invalidInput"),
}
_SHAPE_ERRORS = ("string_pattern_mismatch", "string_too_short", "string_too_long")


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    if any(e.get("type") == "json_invalid" for e in errors):
        return error_response(400, MalformedJsonError.code, "request body is not valid JSON")
    if not errors:
        return error_response(422, "invalidRequest", "invalid request")
    first = errors[0]
    loc = [str(p) for p in first.get("loc", ())]
    field = loc[-1] if loc else ""
    if field in _ID_FIELDS and first.get("type") in _SHAPE_ERRORS and (loc[0] != "body" or field == "recordId"):
        wanted, code = _ID_FIELDS[field]
        return error_response(400, code, f"{_location(loc)}: expected {wanted}")
    message = f"{_location(first.get('loc', ()))}: {first.get('msg', 'invalid')}"
    if len(message) > 300:
        message = message[:300] + "..."
    if len(errors) > 1:
        message += f" (and {len(errors) - 1} more problem(s))"
    return error_response(422, "invalidRequest", message)


async def _disconnected(request: Request, exc: Exception) -> Response:
    """The client went away mid-request: one line in the log, no traceback (nobody reads the answer)."""
    client = request.client.host if request.client else "unknown"
    log.info("client %s disconnected during %s %s", client, request.method, request.url.path)
    return Response(status_code=499)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(500, "internal", "internal error; the service log has the details")


def install_error_handlers(app: FastAPI) -> None:
    """Answer every error with the one error body."""
    app.add_exception_handler(ClientDisconnect, _disconnected)
    app.add_exception_handler(RegistryError, _registry_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected)
