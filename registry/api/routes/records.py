"""``/v1/records``: a record's versions and status, and its proof bundle."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response
from fastapi.responses import JSONResponse

from registry.api.deps import RecordIdPath, ServiceDep
from registry.api.routes import errors
from registry.api.schemas import HASH_PATTERN, ProofBundlePublic, RecordPublic

router = APIRouter(prefix="/v1/records", tags=["records"])


@router.get("/{record_id}", response_model=RecordPublic, responses=errors(), summary="A record and its versions")
def get_record(record_id: RecordIdPath, service: ServiceDep, response: Response) -> RecordPublic:
    """Every version of a record id (``OFFICE:NUMBER[:KIND]``), oldest first, with its status."""
    record = service.record(record_id)
    response.headers.update(service.freshness())
    return record


@router.get(
    "/{record_id}/proof",
    response_model=ProofBundlePublic,
    responses=errors(),
    summary="The proof bundle of a record",
)
def get_proof(
    record_id: RecordIdPath,
    service: ServiceDep,
    content_hash: Annotated[
        str | None,
        Query(
            alias="contentHash",
            pattern=HASH_PATTERN,
            min_length=66,
            max_length=66,
            description="Select the version with this content.",
        ),
    ] = None,
    download: Annotated[bool, Query(description="Ask the browser to save it as a file.")] = False,
) -> JSONResponse:
    """The ``ipreg-proof-v1`` bundle of the newest anchored version (or the one with ``contentHash``)."""
    bundle = service.proof(record_id, content_hash)
    headers = service.freshness()
    if download:
        name = bundle.value.record_id.replace(":", "-") + ".proof.json"
        headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return JSONResponse(bundle.to_json(), headers=headers)
