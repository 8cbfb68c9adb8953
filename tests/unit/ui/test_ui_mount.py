"""The page at /ui and the offline /docs, served by the app itself: every asset is local and present."""

from __future__ import annotations

import re

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from topicserve.api import build_app
from topicserve.gateway import Gateway
from topicserve.ui import STATIC, is_public_path, mount_ui


@pytest.fixture(scope="module")
def client():
    # The routes under test never reach the gateway: an unstarted one is enough.
    with TestClient(build_app(Gateway(None, None, None))) as c:
        yield c


def local_refs(html: str) -> list[str]:
    return re.findall(r"""(?:src|href)=["']([^"'#]+)["']""", html)


def test_ui_page_loads_only_local_assets(client):
    resp = client.get("/ui")
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in resp.headers["content-security-policy"]
    refs = local_refs(resp.text)
    assert "ui/static/vendor/uPlot.iife.min.js" in refs and "ui/static/app.js" in refs
    for ref in refs:
        assert "://" not in ref and not ref.startswith("//"), ref
        assert client.get(f"/{ref}").status_code == 200, ref  # relative to /ui: /ui/static/... and /docs
    assert client.get("/ui/", follow_redirects=False).headers["location"] == "/ui"


def test_docs_are_swagger_from_local_files(client):
    html = client.get("/docs").text
    scripts = re.findall(r"""<script src=["']([^"']+)""", html) + re.findall(r"""href=["']([^"']+)""", html)
    assert scripts and all(s.startswith("/ui/static/") for s in scripts), scripts
    assert "cdn" not in html.lower() and '"validatorUrl": null' in html
    for asset in scripts:
        assert client.get(asset).status_code == 200
    assert client.get("/docs/oauth2-redirect").status_code == 200
    assert client.get("/redoc").status_code == 404  # ReDoc loads from a CDN: not offered
    assert client.get("/openapi.json").json()["info"]["title"] == "topicserve"


def test_vendored_files_and_their_licenses_are_in_the_package():
    vendor = STATIC / "vendor"
    for name in ("uPlot.iife.min.js", "uPlot.min.css", "uPlot.LICENSE", "swagger-ui-bundle.js", "swagger-ui.css",
                 "swagger-ui.LICENSE"):  # fmt: skip
        assert (vendor / name).stat().st_size > 0, name
    assert "uPlot 1.6.32" in (STATIC / "README.md").read_text()


def test_mount_ui_needs_an_app_without_fastapis_cdn_docs():
    with pytest.raises(ValueError, match="docs_url=None"):
        mount_ui(FastAPI())


def test_public_paths_are_the_page_its_assets_and_the_docs():
    assert all(map(is_public_path, ["/ui", "/ui/", "/ui/static/app.js", "/docs", "/openapi.json"]))
    assert not any(map(is_public_path, ["/search", "/documents/x", "/uix", "/docsx", "/trends"]))
