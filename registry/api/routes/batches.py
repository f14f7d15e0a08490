"""``/v1/batches``: anchored (and, for this instance's offices, unfinished) batches."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from registry.api.deps import BatchRoot, OfficeQuery, ServiceDep
from registry.api.routes import errors
from registry.api.schemas import BatchList, BatchPublic

router = APIRouter(prefix="/v1/batches", tags=["batches"])


@router.get("", response_model=BatchList, responses=errors(), summary="Recent batches")
async def list_batches(
    service: ServiceDep,
    response: Response,
    office: OfficeQuery = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="At most this many, newest first.")] = 50,
) -> BatchList:
    """Recent batches, newest first (optionally of one office)."""
    batches = await service.run_read(service.batches, office, limit)
    response.headers.update(service.freshness())
    return BatchList(batches=batches)


@router.get("/{root}", response_model=BatchPublic, responses=errors(), summary="One batch")
async def get_batch(root: BatchRoot, service: ServiceDep, response: Response) -> BatchPublic:
    """A batch by its Merkle root, with its public records (at most 1000)."""
    batch = await service.run_read(service.batch, root)
    response.headers.update(service.freshness())
    return batch
