"""``ipreg serve``: the HTTP service (REST ``/v1``, OpenAPI, web pages) under uvicorn.

The service publishes the batch manifests it writes under ``<public URL>/v1/manifests`` and anchors
that URL as each batch's ``manifestURI``, so other offices' and auditors' instances, whose index loops
follow the chain, can fetch them. An instance without keys or tokens is a read-only auditor.
"""

from __future__ import annotations

import errno
import ipaddress
import socket
from typing import Annotated
from urllib.parse import urlsplit

import typer

from registry.cli.common import HomeOption, RpcOption, settings
from registry.config import ServiceSettings, env_text
from registry.errors import InputError


def default_public_url(host: str, port: int) -> str:
    """``http://HOST:PORT`` (a wildcard listen address is replaced by this machine's name)."""
    if host in ("", "0.0.0.0", "::"):
        host = socket.getfqdn() or "localhost"
    try:
        if ipaddress.ip_address(host).version == 6:
            host = f"[{host}]"
    except ValueError:
        pass
    return f"http://{host}:{port}"


def check_public_url(url: str, what: str = "--public-url") -> str:
    """An absolute http(s) URL without query or fragment, without a trailing slash."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise InputError(f"{what} must be an absolute http(s) URL without query or fragment, got {url!r}")
    return url.strip().rstrip("/")


def check_listen(host: str, port: int) -> socket.socket:
    """The listening socket, bound before anything starts; a port out of range, a host this machine
    cannot resolve or a port in use is refused here (a busy port: one line, exit status 2)."""
    if not 0 <= port <= 65535:
        raise InputError(f"--port must be 0..65535, got {port}")
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except (OSError, UnicodeError) as exc:
        raise InputError(f"cannot listen on --host {host!r}: {exc}") from None
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does: a restart reuses the port
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            typer.echo(f"error: port {port} is in use on {host}: stop the other server or give --port", err=True)
            raise typer.Exit(2) from None
        raise InputError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    return sock


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
    index_interval: Annotated[
        float | None,
        typer.Option(
            "--index-interval",
            help="Index the chain's events and the offices' manifests every N s (0: off; default 5)."
            " $IPREG_INDEX_INTERVAL",
        ),
    ] = None,
    max_upload: Annotated[
        int | None, typer.Option("--max-upload", help="Largest body in bytes. $IPREG_MAX_UPLOAD_BYTES")
    ] = None,
    public_url: Annotated[
        str | None,
        typer.Option(
            "--public-url",
            help="URL under which others reach this service; manifests are published under <URL>/v1/manifests"
            " and anchored with that URL (without it: by content address, ni:///sha-256;...). $IPREG_PUBLIC_URL",
        ),
    ] = None,
    manifest_base: Annotated[
        str | None,
        typer.Option(
            "--manifest-base",
            help="Public base URL of manifests (default <public URL>/v1/manifests). $IPREG_MANIFEST_BASE",
        ),
    ] = None,
    log_level: Annotated[str, typer.Option("--log-level", help="uvicorn log level.")] = "info",
    rpc_url: RpcOption = None,
    home: HomeOption = None,
) -> None:
    """Serve the REST API (/v1, /openapi.json, /health) and the verifier and office pages."""
    sock = check_listen(host, port)
    port = sock.getsockname()[1]  # --port 0: the port the system chose
    from registry.api import create_app
    from registry.api.server import build_server

    s = settings(home, rpc_url=rpc_url)
    try:
        s.home.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot use data directory {s.home}: {exc.strerror or exc}") from None
    given = public_url or env_text("IPREG_PUBLIC_URL")
    public = check_public_url(given or default_public_url(host, port))
    # Without a public URL the listen address is no address for others (often loopback): anchor content
    # addresses of the manifests (ni:///sha-256;...), served by this and any other copy, not a local URL.
    base = manifest_base or env_text("IPREG_MANIFEST_BASE") or (f"{public}/v1/manifests" if given else None)
    options = ServiceSettings.from_env(
        offices=frozenset(o.upper() for o in office) if office else None,
        batch_interval=batch_interval,
        index_interval=index_interval,
        max_upload_bytes=max_upload,
        manifest_base=check_public_url(base, "--manifest-base") if base else None,
    )
    app = create_app(s, service=options)
    typer.echo(
        f"serving {s.home} on http://{host}:{port}/ as {public}/ (chain {s.rpc_url});"
        f" manifests published under {public}/v1/manifests/"
        + (f", anchored as {options.manifest_base}/..." if options.manifest_base else ", anchored by content address"),
        err=True,
    )
    server = build_server(
        app,
        host,
        port,
        header_timeout=options.header_timeout,
        body_timeout=options.body_timeout,
        max_connections=options.max_connections,
        retry_after=options.retry_after,
        log_level=log_level,
        client_connections=options.client_connections,
    )
    server.run(sockets=[sock])
