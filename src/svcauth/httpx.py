"""``httpx`` integration: :class:`BearerAuth` puts a service token on every request.

::

    import httpx
    from svcauth.caller import from_env
    from svcauth.httpx import BearerAuth

    client = httpx.Client(auth=BearerAuth(from_env()))      # or httpx.AsyncClient(...)

The header comes from the source's :class:`~svcauth.caller.Credential` for the request
(``Authorization: Bearer``, or ``Authorization: DPoP`` with a ``DPoP`` proof header when the
source has a DPoP key). A DPoP 401 ``error="use_dpop_nonce"`` with a ``DPoP-Nonce`` is sent
once more with a proof carrying that nonce (remembered for the origin).

On a 401 whose ``WWW-Authenticate`` says ``error="invalid_token"`` (or names no error) the
request is sent once more, when its body can be replayed, if the source's no-storm rule
agrees (:func:`svcauth.caller.retry_unauthorized`: the refused token is still the cached
one, was not fresh from the identity provider, and no 401 refreshed it within the 30 s
cooldown). Otherwise the 401 response is returned as it came, with a warning on the
``svcauth.caller`` logger quoting the receiver's challenge. A 403 is never retried.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Generator

try:
    import httpx as _httpx
except ImportError as exc:  # pragma: no cover - httpx is a core dependency
    raise ImportError("svcauth.httpx needs httpx: install svcauth (pip install svcauth)") from exc

from .caller._challenge import retry_unauthorized
from .caller._credential import Credential, authorizer_for
from .caller._dpop import nonce_to_retry
from .caller._source import TokenSource

__all__ = ["BearerAuth", "TokenNeeded"]


class TokenNeeded:
    """Yielded by :meth:`BearerAuth.auth_flow` when it needs a credential for the request;
    the shell sends one (a :class:`~svcauth.caller.Credential`)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "TokenNeeded()"


_NEED = TokenNeeded()


def _replayable(request: _httpx.Request) -> bool:
    # A ByteStream (bytes, str, form, JSON or no body) can be sent again; a generator or
    # file stream has been consumed by the first send.
    return isinstance(request.stream, _httpx.ByteStream)


class BearerAuth(_httpx.Auth):
    """An ``httpx.Auth`` taking credentials from the source (``authorize(method, url)``,
    when it has it; a plain :class:`~svcauth.caller.TokenSource` is sent as Bearer)."""

    def __init__(self, source: TokenSource) -> None:
        self.source = source
        self._authorizer = authorizer_for(source)

    def __repr__(self) -> str:
        return f"BearerAuth({self.source!r})"

    def auth_flow(  # type: ignore[override]
        self, request: _httpx.Request
    ) -> Generator[_httpx.Request | TokenNeeded, _httpx.Response | Credential, None]:
        """The one flow for sync and async clients.

        Yields :data:`TokenNeeded` to receive the request's credential (``authorize()`` or
        ``await aauthorize()``, supplied by the shells) and a request to receive its response.
        """
        # Decide before sending: a transport may buffer a streamed body while sending it.
        replayable = _replayable(request)
        credential = yield _NEED
        assert isinstance(credential, Credential)
        credential.apply(request.headers)
        response = yield request
        assert isinstance(response, _httpx.Response)
        if credential.scheme == "DPoP" and "dpop-nonce" in response.headers:
            self._authorizer.accept_nonce(str(request.url), response.headers["dpop-nonce"])
            if nonce_to_retry(response.status_code, response.headers) and replayable:
                credential = yield _NEED
                assert isinstance(credential, Credential)
                credential.apply(request.headers)
                response = yield request
                assert isinstance(response, _httpx.Response)
        if not retry_unauthorized(self.source, credential.token, response.status_code,
                                  response.headers.get("www-authenticate"),
                                  url=str(request.url.copy_with(query=None))) or not replayable:
            return
        credential = yield _NEED
        assert isinstance(credential, Credential)
        credential.apply(request.headers)
        yield request

    def sync_auth_flow(
        self, request: _httpx.Request
    ) -> Generator[_httpx.Request, _httpx.Response, None]:
        flow = self.auth_flow(request)
        try:
            step = next(flow)
            while True:
                if isinstance(step, TokenNeeded):
                    step = flow.send(self._authorizer.authorize(request.method, str(request.url)))
                else:
                    step = flow.send((yield step))
        except StopIteration:
            return

    async def async_auth_flow(
        self, request: _httpx.Request
    ) -> AsyncGenerator[_httpx.Request, _httpx.Response]:
        flow = self.auth_flow(request)
        try:
            step = next(flow)
            while True:
                if isinstance(step, TokenNeeded):
                    step = flow.send(
                        await self._authorizer.aauthorize(request.method, str(request.url)))
                else:
                    step = flow.send((yield step))
        except StopIteration:
            return
