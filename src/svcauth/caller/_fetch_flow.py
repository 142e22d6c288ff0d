"""The token fetch with retries, written once as a generator and driven by a sync and an
async shell (the idea of httpx's ``Auth.auth_flow``).

The flow yields a :class:`TokenRequest` to send or a :class:`Sleep` to wait, receives an
:class:`HttpAnswer` or a :class:`TransportFailure`, and returns a :class:`Token` or raises
:class:`~svcauth.TokenError`. Permanent RFC 6749 errors fail at once (after one re-read of a
rejected file-backed credential); 5xx, 429, timeouts and connection errors are retried with
exponential backoff and full jitter, honouring ``Retry-After``, within an overall deadline.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass
from urllib.parse import urlencode

import httpx

from .._errors import TokenEndpointError, TokenError, TokenTransportError
from ._policy import Backoff
from ._token import Token
from ._token_endpoint import TokenRequest, parse_token_response

CREDENTIAL_ERRORS = frozenset({"invalid_client", "unauthorized_client"})


@dataclass(frozen=True, slots=True)
class Sleep:
    """Wait this many seconds before the next attempt."""

    seconds: float


@dataclass(frozen=True, slots=True)
class HttpAnswer:
    """What came back from the token endpoint."""

    status: int
    headers: Mapping[str, str]
    body: bytes


@dataclass(frozen=True, slots=True)
class TransportFailure:
    """No answer: the exception's class name (never its text, which may echo the request)."""

    kind: str
    timeout: bool = False


Step = TokenRequest | Sleep
Outcome = HttpAnswer | TransportFailure | None
FetchFlow = Generator[Step, Outcome, Token]


def fetch_flow(
    build: Callable[[float], TokenRequest], *, clock: Callable[[], float],
    wall_clock: Callable[[], float], timeout: float, deadline: float, backoff: Backoff,
    unit: Callable[[], float], reload_credential: Callable[[], bool],
    dpop_nonce: Callable[[str], None] | None = None,
) -> FetchFlow:
    """One token fetch: ``build(per_attempt_timeout)`` makes each attempt's request.

    ``dpop_nonce`` (DPoP on): hears the ``DPoP-Nonce`` of a ``use_dpop_nonce`` refusal,
    after which the request is rebuilt (with a proof carrying it) and sent once more.
    """
    start = clock()
    attempt = 0
    reloaded = False
    nonced = False
    while True:
        issued_at = clock()
        remaining = start + deadline - issued_at
        request = build(max(0.001, min(timeout, remaining)))
        outcome = yield request
        error: TokenError
        retry_after: float | None = None
        if isinstance(outcome, HttpAnswer):
            try:
                return parse_token_response(
                    outcome.status, outcome.headers, outcome.body,
                    issued_at=issued_at, wall_now=wall_clock(), dpop=dpop_nonce is not None,
                )
            except TokenEndpointError as exc:
                nonce = _nonce(outcome.headers) if exc.code == "use_dpop_nonce" else None
                if nonce and dpop_nonce is not None and not nonced:
                    nonced = True
                    dpop_nonce(nonce)
                    continue
                if exc.permanent:
                    # A rotated secret/key file: re-read once and retry at once if it changed.
                    if exc.code in CREDENTIAL_ERRORS and not reloaded and reload_credential():
                        reloaded = True
                        continue
                    raise
                error, retry_after = exc, exc.retry_after
        else:
            kind = outcome.kind if outcome is not None else "NoAnswer"
            error = TokenTransportError(
                f"token endpoint {request.url}: no answer ({kind}) on attempt {attempt + 1}"
            )
        wait = backoff.delay(attempt, unit(), retry_after)
        attempt += 1
        left = start + deadline - clock()
        if wait >= left:
            if isinstance(error, TokenTransportError):
                raise TokenTransportError(
                    f"token endpoint {request.url}: unreachable after {attempt} attempt(s) "
                    f"within the {deadline:g} s deadline (last: {kind})"
                )
            raise error
        yield Sleep(wait)


def _nonce(headers: Mapping[str, str]) -> str | None:
    return next((v for k, v in headers.items() if k.lower() == "dpop-nonce"), None)


def _answer(response: httpx.Response) -> HttpAnswer:
    return HttpAnswer(response.status_code, dict(response.headers), response.content)


def _failure(exc: httpx.HTTPError) -> TransportFailure:
    return TransportFailure(type(exc).__name__, isinstance(exc, httpx.TimeoutException))


def _post_args(request: TokenRequest) -> dict[str, object]:
    return {
        "content": urlencode(list(request.form)).encode("ascii"),
        "headers": dict(request.headers), "timeout": request.timeout,
    }


def run_sync(
    flow: FetchFlow, client: httpx.Client, sleep: Callable[[float], None] = time.sleep,
    observe: Callable[[int | None], None] | None = None,
) -> Token:
    """Drive ``flow`` with a blocking ``httpx.Client``; ``observe`` hears each attempt's
    HTTP status (``None``: no answer)."""
    step = next(flow)
    while True:
        outcome: Outcome = None
        try:
            if isinstance(step, Sleep):
                sleep(step.seconds)
            else:
                try:
                    outcome = _answer(client.post(step.url, **_post_args(step)))  # type: ignore[arg-type]
                except httpx.HTTPError as exc:
                    outcome = _failure(exc)
                if observe is not None:
                    observe(outcome.status if isinstance(outcome, HttpAnswer) else None)
            step = flow.send(outcome)
        except StopIteration as stop:
            token: Token = stop.value
            return token


async def run_async(
    flow: FetchFlow, client: httpx.AsyncClient,
    sleep: Callable[[float], object] = asyncio.sleep,
    observe: Callable[[int | None], None] | None = None,
) -> Token:
    """Drive ``flow`` with an ``httpx.AsyncClient``; ``observe`` as in :func:`run_sync`."""
    step = next(flow)
    while True:
        outcome: Outcome = None
        try:
            if isinstance(step, Sleep):
                await sleep(step.seconds)  # type: ignore[misc]
            else:
                try:
                    outcome = _answer(await client.post(step.url, **_post_args(step)))  # type: ignore[arg-type]
                except httpx.HTTPError as exc:
                    outcome = _failure(exc)
                if observe is not None:
                    observe(outcome.status if isinstance(outcome, HttpAnswer) else None)
            step = flow.send(outcome)
        except StopIteration as stop:
            token: Token = stop.value
            return token
