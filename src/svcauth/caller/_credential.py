"""What a request carries to prove who calls: a :class:`Credential`, asked of the source per
request (``authorize(method, url)``), so integrations never format ``"Bearer " + token``.

A Bearer credential is built once per token and handed out as is; a DPoP one carries a
fresh proof in its extra headers. A certificate-bound (RFC 8705) credential would be a
Bearer-scheme credential whose transport presents the client certificate: the integrations
would need nothing new.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from ._source import TokenSource

__all__ = ["AuthorizingSource", "BearerAuthorizer", "Credential", "authorizer_for"]


@dataclass(frozen=True, slots=True)
class Credential:
    """The ``Authorization`` of one request and the headers that go with it."""

    scheme: str
    """``Bearer`` or ``DPoP``."""
    token: str = field(repr=False)
    """The access token (never logged)."""
    headers: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    """Further headers, e.g. ``("DPoP", <proof>)``."""

    @property
    def authorization(self) -> str:
        """The ``Authorization`` header value."""
        return f"{self.scheme} {self.token}"

    def apply(self, headers: MutableMapping[str, Any]) -> None:
        """Set ``Authorization`` and the extra headers on a request's header mapping."""
        headers["Authorization"] = f"{self.scheme} {self.token}"
        for name, value in self.headers:
            headers[name] = value


@runtime_checkable
class AuthorizingSource(Protocol):
    """A source that answers with a whole :class:`Credential` per request."""

    def authorize(self, method: str, url: str) -> Credential:
        """The credential for ``method url`` (blocking)."""
        ...

    async def aauthorize(self, method: str, url: str) -> Credential:
        """The credential for ``method url`` (asyncio)."""
        ...

    def accept_nonce(self, url: str, nonce: str) -> None:
        """A server handed a DPoP nonce for ``url``'s origin (no-op without DPoP)."""
        ...


class BearerAuthorizer:
    """Adapts a plain :class:`TokenSource` (``token()``/``atoken()``) to Bearer credentials."""

    def __init__(self, source: TokenSource) -> None:
        self.source = source

    def authorize(self, method: str, url: str) -> Credential:
        """``Bearer <token()>``."""
        return Credential("Bearer", self.source.token())

    async def aauthorize(self, method: str, url: str) -> Credential:
        """``Bearer <await atoken()>``."""
        return Credential("Bearer", await self.source.atoken())

    def accept_nonce(self, url: str, nonce: str) -> None:
        """Bearer tokens use no nonce."""


def authorizer_for(source: TokenSource | AuthorizingSource) -> AuthorizingSource:
    """``source`` itself when it makes credentials, else a :class:`BearerAuthorizer`."""
    if isinstance(source, AuthorizingSource):
        return source
    return BearerAuthorizer(source)
