"""``/v1/records``: a record's versions and status, and its proof bundle."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from fastapi.responses import JSONResponse

from registry.api.deps import RecordIdPath, ServiceDep
from registry.api.routes import errors
from registry.api.schemas import HASH_PATTERN, ProofBundlePublic, RecordPublic

router = APIRouter(prefix="/v1/records", tags=["records"])


@router.get("/{record_id}", response_model=RecordPublic, responses=errors(), summary="A record and its versions")
async def get_record(record_id: RecordIdPath, service: ServiceDep, response: Response) -> RecordPublic:
    """Every version of a record id (``OFFICE:NUMBER[:KIND]``), oldest first, with its status."""
    record = await service.run_read(service.record, record_id)
    response.headers.update(service.freshness())
    return record


@router.get(
    "/{record_id}/proof",
    response_model=ProofBundlePublic,
    responses=errors(),
    summary="The proof bundle of a record",
)
async def get_proof(
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

    def bundle_json() -> tuple[str, Any]:
        bundle = service.proof(record_id, content_hash)
        return bundle.value.record_id, bundle.to_json()

    record, body = await service.run_read(bundle_json)
    headers = service.freshness()
    if download:
        name = record.replace(":", "-") + ".proof.json"
        headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return JSONResponse(body, headers=headers)
