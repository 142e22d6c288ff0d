"""``requests`` integration: :class:`BearerAuth` puts a service token on every request.

::

    import requests
    from svcauth.caller import from_env
    from svcauth.requests import BearerAuth

    session = requests.Session()
    session.auth = BearerAuth(from_env())

The header comes from the source's :class:`~svcauth.caller.Credential` for the request
(``Bearer``, or ``DPoP`` plus a ``DPoP`` proof header when the source has a DPoP key); a
DPoP 401 ``error="use_dpop_nonce"`` with a ``DPoP-Nonce`` is resent once with that nonce.

A 401 whose ``WWW-Authenticate`` says ``error="invalid_token"`` (or names no error) resends
the request once, when its body is bytes, str or absent, if the source's no-storm rule
agrees (see :mod:`svcauth.httpx`); otherwise the 401 is returned as it came, with a warning
quoting the receiver's challenge. A 403 is never retried.
"""

from __future__ import annotations

from typing import Any

try:
    import requests as _requests
    from requests.auth import AuthBase as _AuthBase
except ImportError as exc:
    raise ImportError(
        "svcauth.requests needs requests: install svcauth[requests]"
    ) from exc

from .caller._challenge import retry_unauthorized
from .caller._credential import Credential, authorizer_for
from .caller._dpop import nonce_to_retry
from .caller._source import TokenSource

__all__ = ["BearerAuth"]

_RETRIED = "_svcauth_retried"
_NONCED = "_svcauth_nonced"


class BearerAuth(_AuthBase):
    """A ``requests`` auth taking credentials from the source (``authorize(method, url)``,
    when it has it; a plain :class:`~svcauth.caller.TokenSource` is sent as Bearer)."""

    def __init__(self, source: TokenSource) -> None:
        self.source = source
        self._authorizer = authorizer_for(source)

    def __repr__(self) -> str:
        return f"BearerAuth({self.source!r})"

    def _credential(self, request: _requests.PreparedRequest) -> Credential:
        return self._authorizer.authorize(request.method or "GET", request.url or "")

    def __call__(self, request: _requests.PreparedRequest) -> _requests.PreparedRequest:
        credential = self._credential(request)
        credential.apply(request.headers)
        request.register_hook("response", self._hook(credential))  # type: ignore[no-untyped-call]
        return request

    def _nonce_retry(self, response: _requests.Response, kwargs: Any) -> _requests.Response:
        """DPoP: remember a ``DPoP-Nonce``; resend once when the server asked for it."""
        sent = response.request
        self._authorizer.accept_nonce(sent.url or "", response.headers["DPoP-Nonce"])
        if (getattr(sent, _NONCED, False)
                or nonce_to_retry(response.status_code, response.headers) is None
                or not isinstance(sent.body, bytes | str | None)):
            return response
        _ = response.content
        response.close()
        retry = sent.copy()
        self._credential(retry).apply(retry.headers)
        setattr(retry, _NONCED, True)
        new = response.connection.send(retry, **kwargs)
        new.history.append(response)
        new.request = retry
        return new

    def _hook(self, credential: Credential) -> Any:
        token = credential.token

        def on_response(response: _requests.Response, **kwargs: Any) -> _requests.Response:
            if credential.scheme == "DPoP" and "DPoP-Nonce" in response.headers:
                response = self._nonce_retry(response, kwargs)
            sent = response.request
            if (getattr(sent, _RETRIED, False)
                    or not retry_unauthorized(
                        self.source, token, response.status_code,
                        response.headers.get("WWW-Authenticate"),
                        url=(sent.url or "").split("?", 1)[0])
                    or not isinstance(sent.body, bytes | str | None)):
                return response
            retry = sent.copy()
            fresh = self._credential(retry)
            _ = response.content  # drain so the connection can be reused
            response.close()
            fresh.apply(retry.headers)
            setattr(retry, _RETRIED, True)
            new = response.connection.send(retry, **kwargs)
            new.history.append(response)
            new.request = retry
            return new

        return on_response
