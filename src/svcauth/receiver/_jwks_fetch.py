"""Fetching a JWKS document: pure response checks and one flow (:func:`jwks_flow`) that the
shared drivers of :mod:`svcauth._flow` run.

The rules: no redirects (a 3xx is an error, never followed); HTTP 200
only; a body that declares a media type must declare JSON; no content encoding (we ask for
``identity`` and refuse anything else; the driver reads raw bytes, so a compressed answer
cannot expand past the cap); the body is read in chunks
and the read stops as soon as it passes ``max_bytes``, so a 50 MiB answer costs at most
``max_bytes`` of memory; the whole fetch has one deadline; the body must be a strict UTF-8
JSON object. Every failure is a ``KeySetUnavailableError`` whose message names the URL and
what was wrong (never the body).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._errors import KeySetUnavailableError
from .._flow import Flow, HttpAnswer, HttpRequest, Traced, json_object
from .._telemetry._records import KeysRecord, jwks_fetch

ACCEPT = {"Accept": "application/jwk-set+json, application/json", "Accept-Encoding": "identity"}


def unavailable(url: str, reason: str) -> KeySetUnavailableError:
    """The error for a failed fetch of ``url``."""
    return KeySetUnavailableError(f"JWKS at {url}: {reason}")


def check_head(url: str, status: int, headers: Mapping[str, str], max_bytes: int) -> None:
    """Status, redirects, media type, encoding and declared length, before any body byte."""
    if 300 <= status < 400:
        raise unavailable(url, f"expected HTTP 200, found a redirect ({status}); redirects are "
                          "refused")
    if status != 200:
        raise unavailable(url, f"expected HTTP 200, found {status}")
    media = headers.get("content-type", "").split(";")[0].strip().lower()
    if media and not (media.endswith("/json") or media.endswith("+json")):
        raise unavailable(url, f"expected a JSON media type, found {media[:60]!r}")
    encoding = headers.get("content-encoding", "identity").strip().lower()
    if encoding not in ("", "identity"):
        raise unavailable(url, f"expected no content encoding, found {encoding[:30]!r}")
    declared = headers.get("content-length")
    if declared is not None and declared.strip().isdigit() and int(declared) > max_bytes:
        raise unavailable(url, f"expected at most {max_bytes} bytes, found a declared "
                          f"{int(declared)}")


def parse_body(url: str, body: bytes) -> dict[str, Any]:
    """The JWKS object from the body; HTML, non-JSON and non-objects are errors."""
    try:
        return json_object(body)
    except ValueError as exc:
        raise unavailable(url, str(exc)) from None


def _too_big(url: str, max_bytes: int) -> KeySetUnavailableError:
    return unavailable(url, f"expected at most {max_bytes} bytes, found more (read stopped)")


def _fetch(url: str, timeout: float, max_bytes: int) -> Flow[dict[str, Any]]:
    outcome = yield HttpRequest("GET", url, ACCEPT, None, timeout, max_bytes)
    if not isinstance(outcome, HttpAnswer):
        if outcome.deadline:
            raise unavailable(url, f"expected an answer within {timeout:g} s, found none")
        raise unavailable(url, f"unreachable ({outcome.kind})")
    check_head(url, outcome.status, outcome.headers, max_bytes)
    if len(outcome.body) > max_bytes:
        raise _too_big(url, max_bytes)
    return parse_body(url, outcome.body)


def _count_keys(record: KeysRecord, document: dict[str, Any]) -> None:
    record.document(document)


def jwks_flow(url: str, *, timeout: float, max_bytes: int) -> Flow[dict[str, Any]]:
    """GET ``url`` under the rules above, observed as span ``svcauth.jwks.fetch``."""
    document: dict[str, Any] = yield Traced(_fetch(url, timeout, max_bytes),
                                            lambda: jwks_fetch(url), _count_keys)
    return document
