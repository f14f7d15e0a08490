"""Dependencies of the routes, as ``Annotated`` aliases: the service, the authenticated office,
and request bodies parsed by content type (multipart upload or JSON) under the size limit."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Path, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from registry.api.bodies import JsonLimits, JsonShape, read_json
from registry.api.errors import PayloadTooLargeError, UnsupportedMediaTypeError
from registry.api.limits import client_of
from registry.api.schemas import (
    MANIFEST_NAME_PATTERN,
    OFFICE_PATTERN,
    RECORD_ID_PATTERN,
    ROOT_PATTERN,
    BundleInput,
    RecordCreate,
    RevokeBatch,
    RevokeRecord,
    VerifyByHash,
)
from registry.api.service import Service
from registry.api.service.checks import check_hash
from registry.core import canon
from registry.core.formats import ProofBundle
from registry.core.records import RecordId
from registry.errors import AuthError, BundleError, CanonicalizationError, ForbiddenError, InputError, RecordIdError
from registry.files.ingest import PreparedRecord

#: Most form fields a multipart request may carry (file, bundle, recordId, canonicalization ...).
MAX_FORM_FIELDS = 8
#: Largest non-file form field.
MAX_FIELD_BYTES = 1024 * 1024

M = TypeVar("M", bound=BaseModel)


async def get_service(request: Request) -> Service:
    """The app's service."""
    service: Service = request.app.state.service
    return service


ServiceDep = Annotated[Service, Depends(get_service)]


#: The bearer scheme of the office write routes (``securitySchemes.officeToken`` in the OpenAPI document).
bearer = HTTPBearer(
    auto_error=False,
    scheme_name="officeToken",
    description="An office's API token (`ipreg token create --office XX`): `Authorization: Bearer <token>`.",
)

#: A WIPO ST.3 office code in a path.
OfficeCode = Annotated[
    str, Path(description="WIPO ST.3 code of the office, e.g. EP.", min_length=2, max_length=2, pattern=OFFICE_PATTERN)
]


async def writing_office(
    request: Request,
    service: ServiceDep,
    code: OfficeCode,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> str:
    """The office a write is for, after the bearer token: 401 without a valid one, 403 for another office.

    A client address whose tokens keep failing gets each further 401 later (the delay doubles; the wait
    holds no thread); it is logged once, never with the token."""
    if credentials is None or not credentials.credentials.strip():
        raise AuthError("this request needs the office's API token: Authorization: Bearer <token>")
    client = client_of(request.scope)
    office = await run_in_threadpool(service.office_of_token, credentials.credentials.strip())
    if office is None:
        delay = service.clients.token_failed(client)
        if delay:
            await asyncio.sleep(delay)
        raise AuthError("unknown or revoked API token")
    service.clients.token_ok(client)
    if office != code:
        raise ForbiddenError(f"this token writes for office {office}, not for {code}")
    return await run_in_threadpool(service.check_office, code)


WritingOffice = Annotated[str, Depends(writing_office)]

#: A batch's Merkle root in a path.
BatchRoot = Annotated[
    str,
    Path(
        description="Merkle root of the batch: 0x + 64 hex digits.", min_length=66, max_length=66, pattern=ROOT_PATTERN
    ),
]
#: A record id in a path.
RecordIdPath = Annotated[
    str,
    Path(
        description="OFFICE:NUMBER[:KIND], e.g. EP:1234567:B1.", min_length=4, max_length=26, pattern=RECORD_ID_PATTERN
    ),
]
#: A manifest file name in a path.
ManifestName = Annotated[
    str,
    Path(
        description="The batch root and `.json`: `0x` + 64 hex digits + `.json`.",
        min_length=71,
        max_length=71,
        pattern=MANIFEST_NAME_PATTERN,
    ),
]
#: An optional office filter in a query.
OfficeQuery = Annotated[
    str | None,
    Query(
        description="Only this office's batches (WIPO ST.3 code).", min_length=2, max_length=2, pattern=OFFICE_PATTERN
    ),
]


# ---------------------------------------------------------------------------- bodies


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def _is_json(media: str) -> bool:
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


async def _json_body(request: Request) -> Any:
    """The JSON body under the service's limits (size, keys, depth), checked as it arrives, parsed off the loop."""
    service = await get_service(request)
    return await read_json(request, service.json_limits, service.run_read)


def _validated(model: type[M], body: Any, error: type[InputError] | None = None) -> M:
    """``model`` from a JSON body; InvalidBodyError (or ``error``) naming the first problem."""
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = [str(p) for p in first.get("loc", ())]
        if loc and loc[-1] == "recordId" and first.get("type") in ("string_pattern_mismatch", "string_too_long"):
            raise RecordIdError(f"{'.'.join(loc)}: expected OFFICE:NUMBER[:KIND], e.g. EP:1234567:B1") from None
        raise (error or InvalidBodyError)(_validation_message(exc)) from None


def _validation_message(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first.get("loc", ())) or "body"
    message = f"{where}: {first.get('msg', 'invalid')}"
    return message if len(message) <= 300 else message[:300] + "..."


class InvalidBodyError(InputError):
    """A JSON body of the wrong shape."""

    code = "invalidRequest"
    http_status = 422


@dataclass(frozen=True, slots=True)
class _Upload:
    data: bytes
    filename: str


Form = dict[str, "str | _Upload"]


async def _read_form(request: Request) -> Form:
    """Every multipart part, read (files into memory, bounded by the body limit); spooled files closed."""
    form = await request.form(max_files=2, max_fields=MAX_FORM_FIELDS, max_part_size=MAX_FIELD_BYTES)
    try:
        parts: Form = {}
        for name, value in form.multi_items():
            if name in parts:
                raise InputError(f"multipart field {name!r} given twice")
            parts[name] = (
                _Upload(await value.read(), value.filename or "") if isinstance(value, UploadFile) else str(value)
            )
        return parts
    finally:
        await form.close()


def _file(form: Form, name: str) -> _Upload | None:
    value = form.get(name)
    if value is None:
        return None
    if not isinstance(value, _Upload):
        raise InputError(f"multipart field {name!r} must be a file upload (with a filename)")
    return value


def _text(form: Form, name: str) -> str | None:
    value = form.get(name)
    if value is None:
        return None
    if isinstance(value, _Upload):
        return value.data.decode("utf-8", "replace").strip() or None
    return value.strip() or None


def _unsupported(media: str) -> UnsupportedMediaTypeError:
    return UnsupportedMediaTypeError(
        f"unsupported content type {media or '(none)'!r}: send multipart/form-data or application/json"
    )


@dataclass(frozen=True, slots=True)
class VerifyInput:
    """What to verify: a file (with an optional bundle), a content hash, or a bundle alone."""

    data: bytes | None = None
    filename: str = ""
    bundle: ProofBundle | None = None
    content_hash: str | None = None
    record_hint: str | None = None


def _only(form: Form, allowed: set[str]) -> None:
    unknown = sorted(set(form) - allowed)
    if unknown:
        raise InvalidBodyError(f"unknown multipart field {unknown[0][:40]!r} (expected {', '.join(sorted(allowed))})")


def _bundle(body: Any) -> ProofBundle:
    """A bundle from a request: checked against the documented schema first, then as a bundle."""
    _validated(BundleInput, body, BundleError)
    return ProofBundle.from_json(body)


async def verify_input(request: Request) -> VerifyInput:
    """Parse ``POST /v1/verify``: multipart ``file`` (+ ``bundle``), or JSON ``{contentHash[, recordId]}`` or
    ``{bundle}`` (exactly one of the two shapes; unknown fields are refused)."""
    media = _media_type(request)
    if media == "multipart/form-data":
        form = await _read_form(request)
        _only(form, {"file", "bundle"})
        upload = _file(form, "file")
        if upload is None:
            raise InvalidBodyError("multipart field 'file' is missing (the file to verify)")
        bundle_text = _text(form, "bundle")
        service = await get_service(request)
        bundle = await service.run_read(_bundle_of_text, bundle_text, service.json_limits) if bundle_text else None
        return VerifyInput(data=upload.data, filename=upload.filename or "upload", bundle=bundle)
    if _is_json(media):
        body = await _json_body(request)
        if isinstance(body, dict) and "bundle" in body:
            if set(body) != {"bundle"}:
                raise InvalidBodyError("give exactly one of contentHash or bundle (and no other field with a bundle)")
            return VerifyInput(bundle=await (await get_service(request)).run_read(_bundle, body["bundle"]))
        req = _validated(VerifyByHash, body)
        return VerifyInput(content_hash=check_hash(req.content_hash), record_hint=_hint(req.record_id))
    raise _unsupported(media)


def _bundle_of_text(text: str, limits: JsonLimits) -> ProofBundle:
    """A bundle from a multipart part (on a worker thread): its shape checked, then parsed and validated."""
    raw = text.encode("utf-8")
    try:  # the request fits its route's limit; a bundle part over the JSON limits is a bad bundle (400), not 413
        JsonShape(limits).feed(raw)
    except PayloadTooLargeError as exc:
        raise BundleError(f"proof bundle refused: {exc.diagnostics()}") from None
    try:
        body = canon.load_json(raw, "proof bundle")
    except CanonicalizationError as exc:
        raise BundleError(exc.diagnostics()) from None
    return _bundle(body)


def _hint(record_id: str | None) -> str | None:
    return str(RecordId.parse(record_id)) if record_id else None


VerifyBody = Annotated[VerifyInput, Depends(verify_input)]


@dataclass(frozen=True, slots=True)
class RecordInput:
    """A record to submit, and whether it is sealed (only a salted commitment goes on chain)."""

    prepared: PreparedRecord
    sealed: bool = False


async def record_input(request: Request) -> RecordInput:
    """Parse ``POST /v1/offices/{code}/records``: a multipart file (+ ``recordId``, ``canonicalization``,
    ``sealed``) or JSON ``{recordId, contentHash, canonicalization[, sealed]}``. Canonicalizes and hashes
    an uploaded file."""
    media = _media_type(request)
    if media == "multipart/form-data":
        form = await _read_form(request)
        _only(form, {"file", "recordId", "canonicalization", "sealed"})
        sealed_text = _text(form, "sealed")
        if sealed_text not in (None, "true", "false"):
            raise InvalidBodyError("sealed must be true or false")
        upload = _file(form, "file")
        if upload is None:
            raise InvalidBodyError("multipart field 'file' is missing (the record to anchor)")
        data, filename = upload.data, upload.filename or "upload"
        forced = _text(form, "canonicalization")
        if forced is not None:
            canon.for_anchoring(forced)
        explicit = _text(form, "recordId")
        if forced is not None and forced not in canon.CANONICALIZATIONS:
            raise InvalidBodyError(f"canonicalization must be one of {', '.join(canon.CANONICALIZATIONS)}")
        if explicit is not None and not re.fullmatch(RECORD_ID_PATTERN, explicit):
            raise InvalidBodyError("recordId must be OFFICE:NUMBER[:KIND] with a WIPO ST.3 office, e.g. EP:1234567:B1")
        digest, method, hint = await (await get_service(request)).hash_upload(data, filename, forced)
        rid = RecordId.parse(explicit) if explicit else None
        if rid is None:
            rid = RecordId.parse(hint) if hint else None
        if rid is None:
            raise RecordIdError(
                f"{filename}: no record id (give the recordId field, an ST.96/ST.97 id in the"
                " document, or name the file OFFICE-NUMBER[-KIND].ext)"
            )
        return RecordInput(PreparedRecord(filename, rid, digest, method), sealed_text == "true")
    if _is_json(media):
        body = await _json_body(request)
        req = _validated(RecordCreate, body)
        prepared = PreparedRecord("api", RecordId.parse(req.record_id), req.content_hash.lower(), req.canonicalization)
        return RecordInput(prepared, req.sealed)
    raise _unsupported(media)


RecordBody = Annotated[RecordInput, Depends(record_input)]


async def revocation_input(request: Request) -> RevokeBatch | RevokeRecord:
    """Parse ``POST /v1/offices/{code}/revocations``: JSON ``{root, reason}`` (a whole batch) or
    ``{recordId[, contentHash], reason}`` (one record); exactly one of the two shapes."""
    media = _media_type(request)
    if not _is_json(media):
        raise UnsupportedMediaTypeError(f"unsupported content type {media or '(none)'!r}: send application/json")
    body = await _json_body(request)
    if isinstance(body, dict) and "root" in body:
        if "recordId" in body or "contentHash" in body:
            raise InvalidBodyError("give exactly one of root (a batch) or recordId (a record)")
        return _validated(RevokeBatch, body)
    return _validated(RevokeRecord, body)


RevocationBody = Annotated[RevokeBatch | RevokeRecord, Depends(revocation_input)]

__all__ = [
    "BundleError",
    "RecordBody",
    "RevocationBody",
    "ServiceDep",
    "VerifyBody",
    "VerifyInput",
    "WritingOffice",
    "get_service",
]
