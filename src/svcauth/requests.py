"""``requests`` integration: :class:`BearerAuth` puts a service token on every request.

::

    import requests
    from svcauth.caller import from_env
    from svcauth.requests import BearerAuth

    session = requests.Session()
    session.auth = BearerAuth(from_env())

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
from .caller._source import TokenSource

__all__ = ["BearerAuth"]

_RETRIED = "_svcauth_retried"


class BearerAuth(_AuthBase):
    """A ``requests`` auth taking tokens from a :class:`~svcauth.caller.TokenSource`."""

    def __init__(self, source: TokenSource) -> None:
        self.source = source

    def __repr__(self) -> str:
        return f"BearerAuth({self.source!r})"

    def __call__(self, request: _requests.PreparedRequest) -> _requests.PreparedRequest:
        token = self.source.token()
        request.headers["Authorization"] = f"Bearer {token}"
        request.register_hook("response", self._hook(token))  # type: ignore[no-untyped-call]
        return request

    def _hook(self, token: str) -> Any:
        def on_response(response: _requests.Response, **kwargs: Any) -> _requests.Response:
            sent = response.request
            if (getattr(sent, _RETRIED, False)
                    or not retry_unauthorized(
                        self.source, token, response.status_code,
                        response.headers.get("WWW-Authenticate"),
                        url=(sent.url or "").split("?", 1)[0])
                    or not isinstance(sent.body, bytes | str | None)):
                return response
            fresh = self.source.token()
            _ = response.content  # drain so the connection can be reused
            response.close()
            retry = sent.copy()
            retry.headers["Authorization"] = f"Bearer {fresh}"
            setattr(retry, _RETRIED, True)
            new = response.connection.send(retry, **kwargs)
            new.history.append(response)
            new.request = retry
            return new

        return on_response
