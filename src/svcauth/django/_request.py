"""What the guard needs from a Django request: the ``Authorization`` values, whether an
``access_token`` query parameter came too, and ``METHOD /path`` for the audit line.

Under ASGI the values come straight from the scope, so repeated headers arrive as separate
values (Django's ``META`` joins them with a comma) and are refused as
``authorization_repeated``, as the other ASGI integrations refuse them. Under WSGI the
server has already joined them: the joined value is refused as ``authorization_malformed``.
No ``QueryDict`` is parsed for a request without ``access_token`` or ``%`` in its query.
"""

from __future__ import annotations

from typing import Any

from ..receiver._bearer import authorization_values, has_query_token

__all__ = ["credentials_of"]


def credentials_of(request: Any) -> tuple[list[str], bool, str]:
    """``(authorization values, query_token, endpoint)`` of a Django ``HttpRequest``."""
    # ASGIRequest keeps its scope in the instance dict; a dict lookup, unlike getattr with a
    # default, costs nothing on the WSGI path where the attribute is missing.
    scope = request.__dict__.get("scope")
    endpoint = f"{request.method} {request.path}"
    if scope is not None:
        query_string = scope.get("query_string", b"")
        if isinstance(query_string, str):  # Django's AsyncClient (and Django) allow a str
            query_string = query_string.encode("latin-1", "replace")
        return (authorization_values(scope.get("headers", ())),
                has_query_token(query_string), endpoint)
    meta = request.META
    value = meta.get("HTTP_AUTHORIZATION")
    query = meta.get("QUERY_STRING", "")
    # WSGI strings are ISO-8859-1-decoded bytes: encode back to hand over the raw query.
    return ([] if value is None else [value],
            bool(query) and has_query_token(query.encode("latin-1", "replace")), endpoint)
