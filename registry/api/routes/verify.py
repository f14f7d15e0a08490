"""``POST /v1/verify``: the verdict on a file, a content hash or a proof bundle."""

from __future__ import annotations

from fastapi import APIRouter, Response

from registry.api.deps import ServiceDep, VerifyBody
from registry.api.gate import start_clock
from registry.api.routes import errors, inline, upload_body
from registry.api.schemas import BundleInput, VerdictPublic, VerifyByBundle, VerifyByHash

router = APIRouter(prefix="/v1", tags=["verify"])

_BUNDLE = inline(BundleInput.model_json_schema(by_alias=True))
_BODY = upload_body(
    {
        "file": {"type": "string", "format": "binary", "description": "The record to verify."},
        "bundle": {**_BUNDLE, "description": "Optional: its ipreg-proof-v1 bundle (a JSON part)."},
    },
    {
        "oneOf": [
            inline(VerifyByHash.model_json_schema(by_alias=True)),
            inline(VerifyByBundle.model_json_schema(by_alias=True)),
        ]
    },
    {"bundle": {"contentType": "application/json"}},
)


@router.post(
    "/verify",
    response_model=VerdictPublic,
    responses=errors(408, 413, 415, 429),
    openapi_extra=_BODY,
    summary="Verify a file, a content hash or a proof bundle",
)
async def verify(body: VerifyBody, service: ServiceDep, response: Response) -> VerdictPublic:
    """The verdict (``VERIFIED``, ``TAMPERED``, ``MISMATCH``, ``UNKNOWN``, ``REVOKED``, ``SUPERSEDED``,
    ``UNAUTHORISED``) is the body of a 200 response, with its reason code, the registry, chain id and
    block height of the state it was checked against, and every check (passed, failed, skipped, or not
    checked on this path); errors are only for requests that cannot be judged. When the chain node
    does not answer within the read budget the verdict is judged against the index (its ``stateBlock``
    is the index's block and each check says so); if the index cannot answer either: 503 with
    ``Retry-After``. Files are canonicalized
    on the bounded upload pool; hashes and bundles on the threads serving reads. The same
    :class:`~registry.verify.Verifier` answers the command line."""
    if body.data is not None:
        verdict = await service.verify_upload(body.data, body.filename, body.bundle)
    elif body.bundle is not None:
        start_clock()  # the read budget counts from when the bundle is parsed (not its upload)
        verdict = await service.run_read(service.verify_bundle, body.bundle)
    else:
        verdict = await service.run_read(service.verify_hash, body.content_hash or "", body.record_hint)
    response.headers.update(service.freshness())
    return VerdictPublic.of(verdict)
