"""The web page at /ui and an offline Swagger UI at /docs, both served by the ingress itself.

Everything is plain files under ``static/`` (no CDN, no build step): the page is ``index.html`` +
``app.js`` + ``style.css``, and the vendored uPlot and Swagger UI assets are in ``static/vendor/``
(versions and licenses in ``static/README.md``). ``mount_ui(app)`` needs an app built with
``docs_url=None`` (FastAPI's own /docs loads Swagger UI from a CDN and is blank offline).

The page calls the API with relative URLs, so it works under any ``route_prefix``; it needs no
API key itself, and sends the one the user types in as ``Authorization: Bearer`` on data calls.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).parent / "static"
ASSETS = "/ui/static"
# The page may load only what the ingress serves; uPlot sets element styles, hence 'unsafe-inline'.
UI_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'self'; frame-ancestors 'none'"
)
# What the page and the docs need without an API key (the data routes they call need one).
# /openapi.json is among them: without it /docs shows "Failed to load API definition".
PUBLIC_EXACT = frozenset({"/ui", "/docs", "/docs/oauth2-redirect", "/openapi.json"})


def is_public_path(path: str) -> bool:
    """True for the page, its assets and the docs: the routes an API-key check should let through."""
    return path in PUBLIC_EXACT or path.startswith("/ui/")


def _root(request: Request) -> str:
    return request.scope.get("root_path", "").rstrip("/")


def mount_ui(app: FastAPI) -> None:
    """Add /ui (the page and its static files) and an offline /docs to ``app``."""
    if app.docs_url:
        raise ValueError("build the FastAPI app with docs_url=None: mount_ui serves /docs itself")
    app.mount(ASSETS, StaticFiles(directory=STATIC), name="ui-static")

    @app.api_route("/ui", methods=["GET", "HEAD"], include_in_schema=False)
    async def ui() -> FileResponse:
        headers = {"Content-Security-Policy": UI_CSP, "Cache-Control": "no-cache"}
        return FileResponse(STATIC / "index.html", media_type="text/html", headers=headers)

    @app.get("/ui/", include_in_schema=False)
    async def ui_slash(request: Request) -> RedirectResponse:
        return RedirectResponse(f"{_root(request)}/ui")

    @app.get("/docs", include_in_schema=False)
    async def docs(request: Request) -> HTMLResponse:
        root = _root(request)
        return get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{root}{ASSETS}/vendor/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS}/vendor/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS}/favicon.svg",
            oauth2_redirect_url=f"{root}/docs/oauth2-redirect",
            # The default validator badge is an image from validator.swagger.io: not offline.
            swagger_ui_parameters={"validatorUrl": None, **(app.swagger_ui_parameters or {})},
        )

    @app.get("/docs/oauth2-redirect", include_in_schema=False)
    async def docs_oauth2_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()
