"""``GET /v1/manifests/{office}/{root}.json``: the batch manifests this office service publishes.

When the service anchors, the batch's ``manifestURI`` points here (``ipreg serve --public-url``), so
any auditor's indexer can fetch the values behind an anchored root from the office that anchored it.
A manifest is immutable: its values must rebuild the root it is named after.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import FileResponse

from registry.api.deps import ManifestName, OfficeCode, ServiceDep
from registry.api.routes import errors
from registry.core.formats import MANIFEST

router = APIRouter(prefix="/v1/manifests", tags=["manifests"])

_MANIFEST_SCHEMA: dict[str, Any] = MANIFEST.schema()


@router.get(
    "/{office}/{name}",
    response_class=FileResponse,
    responses={
        **errors(),
        200: {
            "description": "The ipreg-manifest-v1 document of the batch.",
            "content": {"application/json": {"schema": _MANIFEST_SCHEMA}},
        },
    },
    summary="A batch manifest published by this office service",
)
async def get_manifest(
    office: OfficeCode,
    name: ManifestName,
    service: ServiceDep,
) -> FileResponse:
    """The manifest (record ids, content hashes, canonicalizations) behind an anchored root.

    Only ``OFFICE/0x<64 hex digits>.json`` names a manifest; anything else, or a manifest this
    instance does not hold, is 404."""
    path = await service.run_read(service.manifest_path, office, name)
    return FileResponse(
        path,
        media_type="application/json",
        headers={"Cache-Control": "public, max-age=31536000, immutable"},
    )
