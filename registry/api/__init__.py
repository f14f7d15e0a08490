"""The HTTP service: versioned REST under ``/v1``, OpenAPI 3 at ``/openapi.json``, the web pages.

Usage::

    from registry.api import create_app
    from registry.config import ServiceSettings, Settings

    app = create_app(Settings.load(), service=ServiceSettings(batch_interval=60, index_interval=5))
    # uvicorn.run(app)  -- or `ipreg serve`

Every error is ``{"error": {"code": "...", "message": "..."}}``. Nothing is built at import:
the chain is connected on first use, stores are opened per thread. While the app runs, a background
loop keeps the index of every office's records (chain events + the offices' published manifests,
``GET /v1/manifests/{office}/{root}.json``), so an instance without keys is a working auditor.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio.to_thread
from fastapi import FastAPI

from registry import __version__
from registry.api.errors import install_error_handlers
from registry.api.limits import (
    BodyLimitMiddleware,
    BodyLimits,
    ClientLimitMiddleware,
    RequestClockMiddleware,
    SecurityHeadersMiddleware,
)
from registry.api.service import Service
from registry.api.warmup import freeze_heap, prepare_routes, thaw_heap
from registry.chain.client import Chain
from registry.config import ServiceSettings, Settings

__all__ = ["create_app"]

_DESCRIPTION = """
A shared, tamper-evident registry for intellectual-property offices: the chain holds only
hashes of publication records; anyone can prove that a record came from a given office,
unchanged, at a given time, and whether it was later superseded or revoked.

Public reads need no credential. Office writes need `Authorization: Bearer <token>` of that
office (`ipreg token create --office XX`). Every error is `{"error": {"code", "message"}}`.
"""


def create_app(settings: Settings, chain: Chain | None = None, service: ServiceSettings | None = None) -> FastAPI:
    """The FastAPI app for ``settings``' deployment (``chain``: a connected client, e.g. the embedded EVM)."""
    svc = Service(settings, service or ServiceSettings(), chain)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # A read holds a thread for at most its read budget, and while it waits on the node its read slot
        # serves another (``ReadSlots``): few threads run at once, so the event loop (``/health``,
        # accepting, parsing) gets the interpreter lock when it asks, within a 1 ms switch interval.
        anyio.to_thread.current_default_thread_limiter().total_tokens = svc.options.read_threads
        sys.setswitchinterval(0.001)
        # Nothing heavy on the event loop of a first request, and no full collection walking the startup heap.
        await prepare_routes(app)
        freeze_heap()
        svc.start_loop()
        try:
            yield
        finally:
            svc.close()
            thaw_heap()

    app = FastAPI(
        title="IP Office Anchor Registry",
        version=__version__,
        description=_DESCRIPTION,
        openapi_url="/openapi.json",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.service = svc
    install_error_handlers(app)
    limits = BodyLimits(
        verify=svc.options.max_upload_bytes,
        submit=svc.options.submit_bytes,
        other=svc.options.max_body_bytes,
        body_timeout=svc.options.body_timeout,
        json=svc.options.max_json_bytes,
    )
    app.add_middleware(BodyLimitMiddleware, limits=limits, uploads=svc.uploads)
    app.add_middleware(ClientLimitMiddleware, limits=svc.clients)
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(RequestClockMiddleware)  # outermost: the clock starts before anything else

    from registry import web
    from registry.api.routes import (
        batches,
        health,
        install_exact_openapi,
        manifests,
        offices,
        records,
        submissions,
        verify,
    )

    for module in (health, offices, submissions, batches, records, verify, manifests):
        app.include_router(module.router)
    web.install(app)
    install_exact_openapi(app)
    return app
