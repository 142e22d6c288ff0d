"""A refusal as a Django ``HttpResponse``: the exact status, headers and JSON body that
:func:`~svcauth.receiver.refusal_for` gives every integration."""

from __future__ import annotations

from django.http import HttpResponse  # type: ignore[import-untyped]

from .._errors import SvcAuthError
from ..receiver._rfc6750 import refusal_for

__all__ = ["refusal_response"]


def refusal_response(error: SvcAuthError, *, realm: str, include_code: bool = False) -> HttpResponse:
    """The RFC 6750 answer to ``error`` (``Content-Type: application/json``, ``no-store``)."""
    refusal = refusal_for(error, realm=realm, include_code=include_code)
    response = HttpResponse(refusal.body_bytes, status=refusal.status,
                            content_type="application/json")
    for name, value in refusal.headers:
        if name != "Content-Type":
            response[name] = value
    return response
