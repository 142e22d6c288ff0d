"""Real servers for the Django test site: wsgiref (WSGI) and uvicorn (ASGI) on 127.0.0.1,
each on a free port, with or without ``ServiceAuthMiddleware``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import django_site
from django.test import override_settings
from integration_kit import uvicorn_server, wsgi_server


def _handler(kind: str, middleware: bool) -> Any:
    # A handler loads its middleware chain when built: build it under the wanted MIDDLEWARE.
    from django.core.handlers.asgi import ASGIHandler
    from django.core.handlers.wsgi import WSGIHandler

    with override_settings(MIDDLEWARE=django_site.MIDDLEWARE if middleware else []):
        return WSGIHandler() if kind == "wsgi" else ASGIHandler()


@contextmanager
def django_server(kind: str, *, middleware: bool = False) -> Iterator[str]:
    """The test site served over ``kind`` (``"wsgi"`` or ``"asgi"``); yields the base URL."""
    app = _handler(kind, middleware)
    serve = wsgi_server if kind == "wsgi" else uvicorn_server
    with serve(app) as url:
        yield url
