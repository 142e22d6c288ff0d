"""What the I/O shells call: a token fetch, a JWKS fetch, an uncached verification.

Each is a context manager yielding a small record the shell fills in (attempts and status,
key count, caller); on exit it ends the span and records the metrics. Attributes carry
client ids, hosts, counts, statuses and stable error codes only: never a token, a secret, a
claim value other than the caller's client id, or an exception message.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar
from urllib.parse import urlsplit

from . import _tally
from ._metrics import instruments
from ._state import NO_SPAN, STATE, error_code, mark_error, start_server_span, start_span

_T = TypeVar("_T")

FETCH_REASON: ContextVar[str] = ContextVar("svcauth_fetch_reason", default="miss")
"""Why a token fetch runs (``miss`` or ``refresh_ahead``), set by the caching source."""


def _server(url: str) -> dict[str, Any]:
    """``server.address`` and ``server.port`` of ``url`` (nothing else of it: no path, no
    query)."""
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return {"server.address": ""}
    return {"server.address": parts.hostname or "", "server.port": port}


class FetchRecord:
    """Filled in by the fetch shell: one :meth:`answer` per HTTP attempt."""

    __slots__ = ("attempts", "status")

    def __init__(self) -> None:
        self.attempts = 0
        """Attempts made (answered or not)."""
        self.status: int | None = None
        """The last HTTP status, ``None`` when no attempt was answered."""

    def answer(self, status: int | None) -> None:
        """One attempt ended: with HTTP ``status``, or ``None`` (no answer)."""
        self.attempts += 1
        if status is not None:
            self.status = status


@contextmanager
def token_fetch(client_id: str, token_endpoint: str) -> Iterator[FetchRecord]:
    """Span ``svcauth.token.fetch`` and the fetch-duration histogram around one fetch."""
    record = FetchRecord()
    if not STATE.enabled:
        yield record
        return
    started = time.perf_counter()
    outcome = "ok"
    attributes = {"svcauth.client_id": client_id, **_server(token_endpoint),
                  "svcauth.cache.outcome": FETCH_REASON.get()}
    with start_span("svcauth.token.fetch", attributes) as span:
        try:
            yield record
        except BaseException as exc:
            outcome = error_code(exc)
            mark_error(span, outcome)
            raise
        finally:
            span.set_attribute("svcauth.fetch.attempts", record.attempts)
            if record.status is not None:
                span.set_attribute("http.response.status_code", record.status)
            found = instruments()
            if found is not None:
                found.fetch_duration.record(time.perf_counter() - started, {
                    "svcauth.client_id": client_id, "svcauth.outcome": outcome})


class KeysRecord:
    """Filled in by the JWKS shell: how many keys the document held."""

    __slots__ = ("keys",)

    def __init__(self) -> None:
        self.keys: int | None = None
        """Entries in the document's ``keys`` array, ``None`` until parsed."""

    def document(self, document: dict[str, Any]) -> None:
        """Count the keys of the parsed JWKS ``document``."""
        keys = document.get("keys")
        self.keys = len(keys) if isinstance(keys, list) else 0


@contextmanager
def jwks_fetch(url: str) -> Iterator[KeysRecord]:
    """Span ``svcauth.jwks.fetch`` and the JWKS fetch counter around one fetch."""
    record = KeysRecord()
    if not STATE.enabled:
        yield record
        return
    server = _server(url)
    host = server["server.address"]
    outcome = "ok"
    with start_span("svcauth.jwks.fetch", server) as span:
        try:
            yield record
        except BaseException as exc:
            outcome = "failure"
            mark_error(span, error_code(exc))
            raise
        finally:
            span.set_attribute("svcauth.outcome", outcome)
            if record.keys is not None:
                span.set_attribute("svcauth.jwks.keys", record.keys)
            found = instruments()
            if found is not None:
                found.jwks_fetches.add(1, {"server.address": host, "svcauth.outcome": outcome})


class VerifyRecord:
    """Filled in by the verifier on success: the caller's client id (``azp``)."""

    __slots__ = ("caller",)

    def __init__(self) -> None:
        self.caller: str | None = None
        """``azp`` (else ``client_id``) of a verified token; never read from a refused one."""


def counted(verify: Callable[[str], _T], token: str) -> _T:
    """``verify(token)`` with the verification tally and no span: telemetry is on, but no
    tracer provider is set (:func:`tracing`), so a span would only cost time."""
    try:
        result = verify(token)
    except BaseException as exc:
        _tally.verifications["invalid", error_code(exc)] += 1
        raise
    _tally.verifications["valid", ""] += 1
    return result


async def acounted(verify: Callable[[str], Awaitable[_T]], token: str) -> _T:
    """Async twin of :func:`counted`."""
    try:
        result = await verify(token)
    except BaseException as exc:
        _tally.verifications["invalid", error_code(exc)] += 1
        raise
    _tally.verifications["valid", ""] += 1
    return result


@contextmanager
def verification(scheme: str = "Bearer") -> Iterator[VerifyRecord]:
    """Span ``svcauth.verify`` and the verification tally around one uncached verification
    of a token sent with ``scheme`` (``Bearer``, or ``DPoP`` for a bound token).

    The caller's id is recorded only once the token is verified: a refused token's ``azp``
    is whatever its sender wrote.
    """
    record = VerifyRecord()
    if not STATE.enabled:
        yield record
        return
    with start_span("svcauth.verify", {"svcauth.scheme": scheme}, client=False) as span:
        try:
            yield record
        except BaseException as exc:
            code = error_code(exc)
            _tally.verifications["invalid", code] += 1
            span.set_attribute("svcauth.outcome", "invalid")
            mark_error(span, code)
            raise
        _tally.verifications["valid", ""] += 1
        span.set_attribute("svcauth.outcome", "valid")
        if record.caller is not None:
            span.set_attribute("svcauth.caller", record.caller)


@contextmanager
def proof_check() -> Iterator[None]:
    """Span ``svcauth.dpop.proof`` around one DPoP proof check (every DPoP request, cached
    token or not), with its outcome and, when refused, the refusal code; only while a tracer
    provider is set (:func:`svcauth._telemetry._state.tracing`): the check itself is cheap."""
    with start_span("svcauth.dpop.proof", {}, client=False) as span:
        try:
            yield
        except BaseException as exc:
            span.set_attribute("svcauth.outcome", "invalid")
            mark_error(span, error_code(exc))
            raise
        span.set_attribute("svcauth.outcome", "valid")


__all__ = ["FETCH_REASON", "NO_SPAN", "acounted", "counted", "jwks_fetch", "proof_check",
           "token_fetch", "verification"]


class ServedRecord:
    """Filled in by the embedded identity provider's HTTP shell for one request."""

    __slots__ = ("client_id", "error", "status")

    def __init__(self) -> None:
        self.status = 0
        self.error: str | None = None
        self.client_id: str | None = None


@contextmanager
def provider_request(method: str, route: str, headers: Any) -> Iterator[ServedRecord]:
    """A SERVER span for one request to the embedded identity provider, named as Keycloak's
    own (``POST /realms/{realm}/protocol/openid-connect/token``) and continuing the caller's
    trace; it carries the status, the OAuth error code and the client id, nothing else."""
    record = ServedRecord()
    with start_server_span(f"{method} {route}", {"http.request.method": method,
                                                 "http.route": route}, headers) as span:
        yield record
        if span is NO_SPAN:
            return
        span.set_attribute("http.response.status_code", record.status)
        if record.client_id:
            span.set_attribute("svcauth.client_id", record.client_id)
        if record.error:
            mark_error(span, record.error)
