"""``ipreg serve``: the HTTP service (REST ``/v1``, OpenAPI, web pages) under uvicorn."""

from __future__ import annotations

from typing import Annotated

import typer

from .common import HomeOption, RpcOption, settings


def serve(
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8000,
    office: Annotated[
        list[str] | None,
        typer.Option(
            "--office",
            help="Office this instance writes for (repeatable; default: every office whose key it can load)."
            " $IPREG_SERVICE_OFFICES",
        ),
    ] = None,
    batch_interval: Annotated[
        float | None,
        typer.Option("--batch-interval", help="Anchor pending records every N s. $IPREG_BATCH_INTERVAL"),
    ] = None,
    max_upload: Annotated[
        int | None, typer.Option("--max-upload", help="Largest body in bytes. $IPREG_MAX_UPLOAD_BYTES")
    ] = None,
    manifest_base: Annotated[
        str | None, typer.Option("--manifest-base", help="Public base URL of manifests. $IPREG_MANIFEST_BASE")
    ] = None,
    log_level: Annotated[str, typer.Option("--log-level", help="uvicorn log level.")] = "info",
    rpc_url: RpcOption = None,
    home: HomeOption = None,
) -> None:
    """Serve the REST API (/v1, /openapi.json, /health) and the verifier and office pages."""
    import uvicorn

    from ..api import ServiceSettings, create_app

    s = settings(home, rpc_url=rpc_url)
    options = ServiceSettings.from_env(
        offices=frozenset(o.upper() for o in office) if office else None,
        batch_interval=batch_interval,
        max_upload_bytes=max_upload,
        manifest_base=manifest_base,
    )
    app = create_app(s, service=options)
    typer.echo(f"serving {s.home} on http://{host}:{port}/ (chain {s.rpc_url})", err=True)
    uvicorn.run(app, host=host, port=port, log_level=log_level, proxy_headers=False)
