"""Dependencies of the routes, as ``Annotated`` aliases: the service, the authenticated office,
and request bodies parsed by content type (multipart upload or JSON) under the size limit."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Header, Path, Request
from pydantic import BaseModel, ValidationError
from starlette.datastructures import UploadFile

from .. import canon
from ..errors import AuthError, BundleError, CanonicalizationError, ForbiddenError, InputError, RecordIdError
from ..ingest import PreparedRecord
from ..records import ProofBundle, RecordId
from .errors import MalformedJsonError, UnsupportedMediaTypeError
from .schemas import RecordCreate, VerifyRequest
from .service import Service, check_hash

#: Most form fields a multipart request may carry (file, bundle, recordId, canonicalization ...).
MAX_FORM_FIELDS = 8
#: Largest non-file form field.
MAX_FIELD_BYTES = 1024 * 1024

M = TypeVar("M", bound=BaseModel)


def get_service(request: Request) -> Service:
    """The app's service."""
    service: Service = request.app.state.service
    return service


ServiceDep = Annotated[Service, Depends(get_service)]


def writing_office(
    service: ServiceDep,
    code: Annotated[str, Path(description="WIPO ST.3 code of the office, e.g. EP.", min_length=1, max_length=8)],
    authorization: Annotated[str | None, Header(description="Bearer <office API token>")] = None,
) -> str:
    """The office a write is for, after the bearer token: 401 without a valid one, 403 for another office."""
    if not authorization:
        raise AuthError("this request needs the office's API token: Authorization: Bearer <token>")
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthError("malformed Authorization header: expected 'Bearer <token>'")
    office = service.office_of_token(token.strip())
    if office is None:
        raise AuthError("unknown or revoked API token")
    if office != code.upper():
        raise ForbiddenError(f"this token writes for office {office}, not for {code.upper()[:8]}")
    return service.check_office(code)


WritingOffice = Annotated[str, Depends(writing_office)]


# ---------------------------------------------------------------------------- bodies


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def _is_json(media: str) -> bool:
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


async def _json_body(request: Request) -> Any:
    raw = await request.body()
    try:
        return canon.load_json(raw, "request body")
    except CanonicalizationError as exc:
        raise MalformedJsonError(exc.diagnostics()) from None


def _validated(model: type[M], body: Any) -> M:
    """``model`` from a JSON body; InvalidBodyError naming the first problem."""
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise InvalidBodyError(_validation_message(exc)) from None


def _validation_message(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first.get("loc", ())) or "body"
    return f"{where}: {first.get('msg', 'invalid')}"


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


async def verify_input(request: Request) -> VerifyInput:
    """Parse ``POST /v1/verify``: multipart ``file`` (+ ``bundle``), or JSON ``contentHash`` / ``bundle``."""
    media = _media_type(request)
    if media == "multipart/form-data":
        form = await _read_form(request)
        bundle_text = _text(form, "bundle")
        bundle = ProofBundle.loads(bundle_text) if bundle_text is not None else None
        upload = _file(form, "file")
        if upload is None:
            digest = _text(form, "contentHash")
            if digest is not None:
                return VerifyInput(content_hash=check_hash(digest), record_hint=_hint(_text(form, "recordId")))
            if bundle is not None:
                return VerifyInput(bundle=bundle)
            raise InputError("multipart field 'file' is missing (the file to verify)")
        return VerifyInput(data=upload.data, filename=upload.filename or "upload", bundle=bundle)
    if _is_json(media):
        body = await _json_body(request)
        req = _validated(VerifyRequest, body)
        if (req.content_hash is None) == (req.bundle is None):
            raise InvalidBodyError("give exactly one of contentHash or bundle")
        if req.bundle is not None:
            return VerifyInput(bundle=ProofBundle.from_json(req.bundle))
        return VerifyInput(content_hash=check_hash(req.content_hash or ""), record_hint=_hint(req.record_id))
    raise _unsupported(media)


def _hint(record_id: str | None) -> str | None:
    return str(RecordId.parse(record_id)) if record_id else None


VerifyBody = Annotated[VerifyInput, Depends(verify_input)]


async def record_input(request: Request) -> PreparedRecord:
    """Parse ``POST /v1/offices/{code}/records``: a multipart file (+ ``recordId``, ``canonicalization``)
    or JSON ``{recordId, contentHash, canonicalization}``. Canonicalizes and hashes an uploaded file."""
    media = _media_type(request)
    if media == "multipart/form-data":
        form = await _read_form(request)
        upload = _file(form, "file")
        if upload is None:
            raise InputError("multipart field 'file' is missing (the record to anchor)")
        data, filename = upload.data, upload.filename or "upload"
        forced = _text(form, "canonicalization")
        explicit = _text(form, "recordId")
        digest, method, hint = await get_service(request).hash_upload(data, filename, forced)
        rid = RecordId.parse(explicit) if explicit else None
        if rid is None:
            rid = RecordId.parse(hint) if hint else None
        if rid is None:
            raise RecordIdError(
                f"{filename}: no record id (give the recordId field, an ST.96/ST.97 id in the"
                " document, or name the file OFFICE-NUMBER[-KIND].ext)"
            )
        return PreparedRecord(filename, rid, digest, method)
    if _is_json(media):
        body = await _json_body(request)
        req = _validated(RecordCreate, body)
        return PreparedRecord("api", RecordId.parse(req.record_id), req.content_hash.lower(), req.canonicalization)
    raise _unsupported(media)


RecordBody = Annotated[PreparedRecord, Depends(record_input)]

__all__ = [
    "BundleError",
    "RecordBody",
    "ServiceDep",
    "VerifyBody",
    "VerifyInput",
    "WritingOffice",
    "get_service",
]
