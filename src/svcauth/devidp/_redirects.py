"""Keycloak 26's redirect-URI and web-origin rules (``RedirectUtils``, ``WebOriginsUtils``).

- A registered URI matches exactly, or, when it ends in ``*`` (and has no ``?``), as a
  prefix of the requested URI without its query and fragment; ``*`` alone matches all.
- ``http://localhost`` and ``http://127.0.0.1`` URIs that do not match are tried again
  without their port (RFC 8252 §7.3): ``http://127.0.0.1/cb`` accepts any port.
- Web origins: ``*`` allows all, ``+`` the origins of the redirect URIs, else exact.
- ``post.logout.redirect.uris`` is ``##``-separated; ``+`` means the redirect URIs.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterable

from ._realm import Client

_LOOPBACKS = ("http://localhost", "http://127.0.0.1")


def _matches(valid: Iterable[str], uri: str) -> bool:
    for pattern in valid:
        if pattern == "*":
            return True
        if pattern.endswith("*") and "?" not in pattern:
            cut = min((i for i in (uri.find("?"), uri.find("#")) if i >= 0), default=len(uri))
            bare, prefix = uri[:cut], pattern[:-1]
            if bare.startswith(prefix):
                return True
            if len(prefix) > 1 and prefix.endswith("/") and bare == prefix[:-1]:
                return True
        elif pattern == uri:
            return True
    return False


def redirect_allowed(valid: Iterable[str], uri: str) -> bool:
    """Whether ``uri`` is allowed by the registered ``valid`` redirect URIs."""
    patterns = list(valid)
    if not patterns or not uri:
        return False
    scheme = urllib.parse.urlsplit(uri).scheme.lower()
    if scheme not in ("http", "https") and not any(p.startswith(scheme + ":") for p in patterns):
        return False
    if _matches(patterns, uri):
        return True
    if uri.startswith(_LOOPBACKS):
        colon = uri.find(":", len("http://localhost"))
        if colon >= 0:
            slash = uri.find("/", colon)
            stripped = uri[:colon] + (uri[slash:] if slash >= 0 else "")
            return _matches(patterns, stripped)
    return False


def post_logout_uris(client: Client) -> list[str]:
    """The client's valid post-logout redirect URIs (``+``: its redirect URIs)."""
    raw = client.attributes.get("post.logout.redirect.uris", "")
    out: list[str] = []
    for item in (p.strip() for p in raw.split("##")):
        if item == "+":
            out += list(client.redirect_uris)
        elif item:
            out.append(item)
    return out


def _origin(uri: str) -> str | None:
    parts = urllib.parse.urlsplit(uri)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc.rsplit('@', 1)[-1]}"


def origin_allowed(client: Client, origin: str) -> bool:
    """Whether ``origin`` is one of the client's web origins (``+`` and ``*`` resolved)."""
    for entry in client.web_origins:
        if entry == "*":
            return True
        if entry == "+":
            if any(_origin(u.rstrip("*")) == origin for u in client.redirect_uris):
                return True
        elif entry == origin:
            return True
    return False
