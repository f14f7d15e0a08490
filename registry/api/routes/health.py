"""``GET /health``: is the chain reachable, which block, how many records wait."""

from __future__ import annotations

from fastapi import APIRouter

from registry.api.deps import ServiceDep
from registry.api.routes import errors
from registry.api.schemas import HealthPublic

router = APIRouter(tags=["health"])


@router.get("/health", response_model=HealthPublic, responses=errors(), summary="Service health")
async def health(service: ServiceDep) -> HealthPublic:
    """Chain reachable, latest block, records pending; ``status`` is ``degraded`` if the chain is not."""
    return await service.health_async()
