"""The token fetch with retries, written once as a generator and driven by the shared
driver pair of :mod:`svcauth._flow` (``run_sync``/``run_async``, re-exported here).

The flow yields an :class:`~svcauth._flow.HttpRequest` (the ``POST`` of a
:class:`TokenRequest`) or a :class:`Sleep`, receives an :class:`HttpAnswer` or a
:class:`TransportFailure`, and returns a :class:`Token` or raises
:class:`~svcauth.TokenError`. Permanent RFC 6749 errors fail at once (after one re-read of a
rejected file-backed credential); 5xx, 429, timeouts and connection errors are retried with
exponential backoff and full jitter, honouring ``Retry-After``, within an overall deadline.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Mapping
from urllib.parse import urlencode

from .._errors import TokenEndpointError, TokenError, TokenTransportError
from .._flow import HttpAnswer, HttpRequest, Sleep, TransportFailure, run_async, run_sync
from ._policy import Backoff
from ._token import Token
from ._token_endpoint import TokenRequest, parse_token_response

__all__ = ["FetchFlow", "HttpAnswer", "Sleep", "TransportFailure", "fetch_flow", "post",
           "run_async", "run_sync"]

CREDENTIAL_ERRORS = frozenset({"invalid_client", "unauthorized_client"})

Step = HttpRequest | Sleep
Outcome = HttpAnswer | TransportFailure | None
FetchFlow = Generator[Step, Outcome, Token]


def post(request: TokenRequest) -> HttpRequest:
    """The form ``POST`` that sends ``request``."""
    return HttpRequest("POST", request.url, dict(request.headers),
                       urlencode(list(request.form)).encode("ascii"), request.timeout,
                       follow_redirects=None)


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
        outcome = yield post(request)
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
