"""The API documentation page, with Swagger UI served by the app itself.

FastAPI's default page loads Swagger UI from a CDN: without internet it is blank. The assets come from
the ``fastapi-offline`` package (a maintained copy of the Swagger UI distribution) and are served under
``/api/docs/static``; the page names no other host. Like the OpenAPI document, the docs are open: they
show the shape of the API, no data.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

DOCS_PATH = "/api/docs"
STATIC_PATH = f"{DOCS_PATH}/static"
OPENAPI_PATH = "/api/openapi.json"
ASSETS = Path(str(files("fastapi_offline") / "static"))


def install(app: FastAPI) -> None:
    """Serve the docs page and its assets (the app must be created with ``docs_url=None``)."""
    app.mount(STATIC_PATH, StaticFiles(directory=ASSETS), name="docs-static")

    @app.get(DOCS_PATH, include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=OPENAPI_PATH,
            title=f"{app.title}: docs",
            swagger_js_url=f"{STATIC_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{STATIC_PATH}/swagger-ui.css",
            swagger_favicon_url=f"{STATIC_PATH}/favicon.png",
            swagger_ui_parameters={"validatorUrl": None},  # Swagger UI would send the document to an online validator
        )
