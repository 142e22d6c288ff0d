"""Every MockMart API's OpenAPI, browsable at ``/docs`` without the internet.

FastAPI's own ``/docs`` page loads Swagger UI from a CDN, which this machine (and many a
build host) cannot reach; here the page is FastAPI's, its assets come from the
``swagger-ui-bundle`` package (Swagger UI's own files, Apache-2.0) served under
``/docs/assets/``. The security scheme in ``/openapi.json`` is svcauth's: each route
guarded with :class:`svcauth.fastapi.ServiceAuth` names an HTTP bearer (JWT) scheme.
"""

from __future__ import annotations

from typing import Any

__all__ = ["api_options", "install_docs"]


def api_options() -> dict[str, Any]:
    """Keyword arguments for ``FastAPI(...)``: no CDN-backed docs pages (see
    :func:`install_docs`)."""
    return {"docs_url": None, "redoc_url": None}


def install_docs(app: Any) -> None:
    """``GET /docs``: Swagger UI over ``app``'s ``/openapi.json``, its assets served locally."""
    from fastapi.openapi.docs import get_swagger_ui_html
    from fastapi.responses import HTMLResponse
    from starlette.staticfiles import StaticFiles
    from swagger_ui_bundle import swagger_ui_path

    app.mount("/docs/assets", StaticFiles(directory=swagger_ui_path), name="docs-assets")

    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url, title=f"{app.title}: API",
            swagger_js_url="/docs/assets/swagger-ui-bundle.js",
            swagger_css_url="/docs/assets/swagger-ui.css",
            swagger_favicon_url="/docs/assets/favicon-32x32.png")

    app.add_api_route("/docs", docs, methods=["GET"], include_in_schema=False)
