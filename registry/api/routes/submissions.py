"""Office writes: submit records, list the outbox, anchor now, revoke. Bearer token of that office only."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from registry.api.deps import RecordBody, RecordIdPath, RevocationBody, ServiceDep, WritingOffice
from registry.api.routes import errors, inline, upload_body
from registry.api.schemas import (
    HASH_PATTERN,
    RECORD_ID_PATTERN,
    BatchRunPublic,
    ErrorBody,
    PendingPublic,
    ProofBundlePublic,
    RecordCreate,
    RevocationPublic,
    RevokeBatch,
    RevokeRecord,
    SubmissionPublic,
)

router = APIRouter(prefix="/v1/offices", tags=["office writes"])

_BODY = upload_body(
    {
        "file": {"type": "string", "format": "binary", "description": "The record to anchor."},
        "recordId": {
            "type": "string",
            "maxLength": 64,
            "pattern": RECORD_ID_PATTERN,
            "description": "OFFICE:NUMBER[:KIND]; else from the document or the file name.",
        },
        "canonicalization": {"type": "string", "enum": ["xml-c14n2-v3", "json-jcs-v2", "raw"]},
        "sealed": {"type": "string", "enum": ["true", "false"], "description": "Anchor a salted commitment only."},
    },
    inline(RecordCreate.model_json_schema(by_alias=True)),
)


@router.post(
    "/{code}/records",
    response_model=SubmissionPublic,
    status_code=202,
    responses={
        **errors(401, 403, 408, 413, 415, 429),
        200: {"model": SubmissionPublic, "description": "Already known; nothing new."},
        400: {
            "model": ErrorBody,
            "description": "Invalid input: content that cannot be canonicalized, or a multipart file without a"
            " record id (no `recordId` field, no ST.96/ST.97 id in the document, no OFFICE-NUMBER[-KIND] file"
            " name): code `invalidRecordId`; give the `recordId` field.",
        },
    },
    openapi_extra=_BODY,
    summary="Submit a record for anchoring",
)
def submit_record(office: WritingOffice, body: RecordBody, service: ServiceDep, response: Response) -> SubmissionPublic:
    """Accept a record into the durable outbox (202); the same record again answers 200, changing nothing."""
    submission = service.submit(office, body.prepared, body.sealed)
    if not submission.accepted:
        response.status_code = 200
    return submission


@router.get(
    "/{code}/pending",
    response_model=PendingPublic,
    responses=errors(401, 403),
    summary="Records waiting to be anchored",
)
def list_pending(
    office: WritingOffice,
    service: ServiceDep,
    limit: Annotated[int, Query(ge=1, le=1000, description="At most this many, oldest first.")] = 100,
) -> PendingPublic:
    """The office's records not yet in a batch, and its batches not yet anchored."""
    return service.pending(office, limit)


@router.post(
    "/{code}/batches",
    response_model=BatchRunPublic,
    responses=errors(401, 403, 409, 429, 502),
    summary="Anchor pending records now",
)
async def run_batch(office: WritingOffice, service: ServiceDep) -> BatchRunPublic:
    """Batch the office's pending records and anchor them now, signed with the office's key.

    Runs on the service's write pool, never on the threads serving reads; more concurrent requests
    than the service takes are answered 429 with ``Retry-After``."""
    result = await service.run_batch(office)
    pending = await run_in_threadpool(service.pending, office, 1)
    return BatchRunPublic.of(office, result, pending.count)


@router.post(
    "/{code}/records/{record_id}/reveal",
    response_model=ProofBundlePublic,
    responses=errors(401, 403, 409),
    summary="Reveal a sealed record",
)
def reveal_record(
    office: WritingOffice,
    record_id: RecordIdPath,
    service: ServiceDep,
    content_hash: Annotated[
        str | None,
        Query(
            alias="contentHash",
            pattern=HASH_PATTERN,
            min_length=66,
            max_length=66,
            description="Which sealed version (default: the newest).",
        ),
    ] = None,
) -> JSONResponse:
    """The proof bundle of an anchored sealed record with its salt revealed: anyone can then verify the file
    with it (``POST /v1/verify`` with ``file`` and ``bundle``) and learns it existed at the sealed time."""
    bundle = service.reveal(office, record_id, content_hash)
    return JSONResponse(bundle.to_json())


_REVOKE_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "oneOf": [
                        inline(RevokeBatch.model_json_schema(by_alias=True)),
                        inline(RevokeRecord.model_json_schema(by_alias=True)),
                    ]
                }
            }
        },
    },
}


@router.post(
    "/{code}/revocations",
    response_model=RevocationPublic,
    responses=errors(401, 403, 409, 415, 502),
    openapi_extra=_REVOKE_BODY,
    summary="Revoke a batch or a record",
)
def revoke(office: WritingOffice, body: RevocationBody, service: ServiceDep) -> RevocationPublic:
    """Revoke one of the office's batches (``{root, reason}``) or one anchored record (``{recordId[,
    contentHash], reason}``), signed with the office's key: verification then answers ``REVOKED``. An
    office revokes only its own batches and records (403 for another office's record, 404 for a root
    the office did not anchor); revoking twice is 409."""
    if isinstance(body, RevokeBatch):
        return service.revoke(office, body.reason, root=body.root)
    return service.revoke(office, body.reason, record_id=body.record_id, content_hash=body.content_hash)
