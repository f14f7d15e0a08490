"""``/v1/offices``: the offices of the registry (public reads)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from registry.api.deps import OfficeCode, ServiceDep
from registry.api.routes import errors
from registry.api.schemas import OfficeList, OfficePublic

router = APIRouter(prefix="/v1/offices", tags=["offices"])


@router.get("", response_model=OfficeList, responses=errors(), summary="All offices")
async def list_offices(service: ServiceDep, response: Response) -> OfficeList:
    """Every registered office: name, base URI of its register, status, signers (from the index)."""
    offices = await service.run_read(service.offices)
    response.headers.update(service.freshness())
    return OfficeList(offices=offices)


@router.get("/{code}", response_model=OfficePublic, responses=errors(), summary="One office")
async def get_office(code: OfficeCode, service: ServiceDep, response: Response) -> OfficePublic:
    """One office by its WIPO ST.3 code (400 if malformed, 404 if not registered)."""
    office = await service.run_read(service.office, code)
    response.headers.update(service.freshness())
    return office
