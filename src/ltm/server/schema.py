"""The OpenAPI schema: readable operation ids, the security schemes (a bearer key or an
X-API-Key header on every /v1 route but the health check), Swagger UI served offline at
``/docs``, and the committed ``openapi.json``."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles

log = logging.getLogger(__name__)

# readable operation ids for generated clients; other routes get their name in camelCase
_OPERATION_IDS = {"search": "searchMemories", "context": "buildContext",
                  "forget_filter": "forgetMemories", "user_stats": "getUserStats",
                  "store_stats": "getStoreStats", "health": "getHealth", "me": "getMe"}


def operation_id(route: APIRoute) -> str:
    first, *rest = route.name.split("_")
    return _OPERATION_IDS.get(route.name, first + "".join(w.title() for w in rest))


_SECURITY_SCHEMES = {
    "bearer": {"type": "http", "scheme": "bearer",
               "description": "An API key from `ltm keys create`: Authorization: Bearer ltm_..."},
    "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key",
               "description": "The same API key, in an X-API-Key header"},
}


def openapi_with_security(app: FastAPI) -> dict[str, Any]:
    """The schema with its security schemes declared: every /v1 route but the health check
    takes a key (a keyless loopback server accepts calls without one)."""
    if app.openapi_schema is None:
        schema = get_openapi(title=app.title, version=app.version, description=app.description,
                             routes=app.routes)
        schema.setdefault("components", {})["securitySchemes"] = _SECURITY_SCHEMES
        for path, ops in schema.get("paths", {}).items():
            if path.startswith("/v1") and path != "/v1/health":
                for op in ops.values():
                    op["security"] = [{"bearer": []}, {"apiKey": []}]
        app.openapi_schema = schema
    return app.openapi_schema


def offline_docs(app: FastAPI) -> None:
    """``/docs`` (Swagger UI) served from the swagger-ui-bundle package: no CDN, works
    offline. Skipped, with the schema still at /openapi.json, when the package is missing."""
    try:
        from swagger_ui_bundle import swagger_ui_path
    except ImportError:
        log.info("swagger-ui-bundle is not installed: /docs is off (the schema is at "
                 "/openapi.json)")
        return
    from fastapi.openapi.docs import get_swagger_ui_html

    app.mount("/docs-assets", StaticFiles(directory=swagger_ui_path), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/openapi.json", title="ltm memory server",
                                   swagger_js_url="/docs-assets/swagger-ui-bundle.js",
                                   swagger_css_url="/docs-assets/swagger-ui.css",
                                   swagger_favicon_url="/docs-assets/favicon-32x32.png")


OPENAPI_PATH = Path(__file__).with_name("openapi.json")


def openapi_text(app: FastAPI) -> str:
    """The schema as committed in ``openapi.json`` (sorted keys, stable across runs)."""
    return json.dumps(app.openapi(), sort_keys=True, indent=1, ensure_ascii=False) + "\n"
