"""Fetching a JWKS document: pure response checks plus thin sync and async GET shells.

The rules, shared by both shells: no redirects (a 3xx is an error, never followed); HTTP 200
only; a body that declares a media type must declare JSON; no content encoding (we ask for
``identity`` and refuse anything else before reading, so a compressed answer cannot expand
past the cap and ``iter_bytes`` yields the raw bytes); the body is read in chunks
and the read stops as soon as it passes ``max_bytes``, so a 50 MiB answer costs at most
``max_bytes`` of memory; the whole fetch has one deadline; the body must be a strict UTF-8
JSON object. Every failure is a ``KeySetUnavailableError`` whose message names the URL and
what was wrong (never the body).
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Mapping
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

import httpx

from .._errors import KeySetUnavailableError
from .._telemetry._records import jwks_fetch

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
        document = json.loads(body.decode("utf-8"))
    except (ValueError, RecursionError):
        raise unavailable(url, "expected a JSON object, found a body that is not JSON") from None
    if not isinstance(document, dict):
        raise unavailable(url, f"expected a JSON object, found {type(document).__name__}")
    return document


def _too_big(url: str, max_bytes: int) -> KeySetUnavailableError:
    return unavailable(url, f"expected at most {max_bytes} bytes, found more (read stopped)")


def get_jwks(
    url: str, *, client: httpx.Client | None, timeout: float, max_bytes: int
) -> dict[str, Any]:
    """GET ``url`` (blocking) under the rules above, in span ``svcauth.jwks.fetch``."""
    with jwks_fetch(url) as record:
        document = _get_jwks(url, client=client, timeout=timeout, max_bytes=max_bytes)
        record.document(document)
    return document


def _get_jwks(
    url: str, *, client: httpx.Client | None, timeout: float, max_bytes: int
) -> dict[str, Any]:
    # httpx's timeouts bound each socket operation, not the whole exchange: a server that
    # drips a byte at a time could hold a blocking fetch for ever. So the exchange runs in a
    # daemon thread and the caller waits at most `timeout`; on expiry the reader is told to
    # stop and, when the client is our own, the client is closed under it.
    own = client is None
    http = client or httpx.Client(timeout=timeout, follow_redirects=False)
    result: Future[bytes] = Future()
    stop = threading.Event()

    def run() -> None:
        try:
            result.set_result(_read(url, http, timeout, max_bytes, stop))
        except BaseException as exc:  # handed to the waiting caller
            result.set_exception(exc)

    threading.Thread(target=run, name="svcauth-jwks-fetch", daemon=True).start()
    try:
        body = result.result(timeout=timeout)
    except FutureTimeout:
        stop.set()
        raise unavailable(url, f"expected an answer within {timeout:g} s, found none") from None
    except httpx.HTTPError as exc:
        raise unavailable(url, f"unreachable ({type(exc).__name__})") from None
    finally:
        if own:
            http.close()
    return parse_body(url, body)


def _read(url: str, http: httpx.Client, timeout: float, max_bytes: int,
          stop: threading.Event) -> bytes:
    with http.stream("GET", url, headers=ACCEPT, follow_redirects=False,
                     timeout=timeout) as response:
        check_head(url, response.status_code, response.headers, max_bytes)
        body = bytearray()
        for chunk in response.iter_bytes():
            body += chunk
            if len(body) > max_bytes:
                raise _too_big(url, max_bytes)
            if stop.is_set():
                raise unavailable(url, f"expected an answer within {timeout:g} s, found none")
    return bytes(body)


async def aget_jwks(
    url: str, *, client: httpx.AsyncClient | None, timeout: float, max_bytes: int
) -> dict[str, Any]:
    """GET ``url`` (asyncio) under the rules above, in span ``svcauth.jwks.fetch``."""
    with jwks_fetch(url) as record:
        document = await _aget_jwks(url, client=client, timeout=timeout, max_bytes=max_bytes)
        record.document(document)
    return document


async def _aget_jwks(
    url: str, *, client: httpx.AsyncClient | None, timeout: float, max_bytes: int
) -> dict[str, Any]:
    http = client or httpx.AsyncClient(timeout=timeout, follow_redirects=False)
    try:
        async with asyncio.timeout(timeout):
            async with http.stream("GET", url, headers=ACCEPT, follow_redirects=False,
                                   timeout=timeout) as response:
                check_head(url, response.status_code, response.headers, max_bytes)
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > max_bytes:
                        raise _too_big(url, max_bytes)
    except TimeoutError:
        raise unavailable(url, f"expected an answer within {timeout:g} s, found none") from None
    except httpx.HTTPError as exc:
        raise unavailable(url, f"unreachable ({type(exc).__name__})") from None
    finally:
        if client is None:
            await http.aclose()
    return parse_body(url, bytes(body))
