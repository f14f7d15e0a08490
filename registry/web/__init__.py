"""The web pages of the service: the verifier (``/``) and the office view (``/office/{code}``).

Plain HTML with small vanilla scripts that call the ``/v1`` API; everything is served from this
package (no CDN), and the pages only ever insert text (``textContent``), never HTML.
"""

from __future__ import annotations

from importlib import resources

from fastapi import APIRouter, FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

router = APIRouter(include_in_schema=False)


def _page(name: str) -> HTMLResponse:
    text = resources.files("registry.web").joinpath("static").joinpath(name).read_text(encoding="utf-8")
    return HTMLResponse(text, headers={"Cache-Control": "no-cache"})


@router.get("/")
def verifier_page() -> HTMLResponse:
    """The verifier: drop a file or paste a hash, see the verdict and its provenance."""
    return _page("index.html")


@router.get("/office/{code}")
def office_page(code: str) -> HTMLResponse:
    """An office's recent batches and pending records (the page reads the code from its URL)."""
    del code
    return _page("office.html")


def install(app: FastAPI) -> None:
    """Add the pages and ``/static`` to ``app``."""
    app.include_router(router)
    app.mount("/static", StaticFiles(packages=[("registry.web", "static")]), name="static")
