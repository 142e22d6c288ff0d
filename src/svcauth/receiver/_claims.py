"""``Claims``: the verified payload of a token, read-only, with typed accessors."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from ..providers._roles import keycloak_roles as roles_of
from ..providers._roles import scopes_of

__all__ = ["Claims", "roles_of", "scopes_of"]


def _str_or_none(value: Any) -> str | None:
    return value if type(value) is str else None


class Claims(Mapping[str, Any]):
    """The verified claims of one token: a read-only mapping of the JWT payload.

    ``header`` is the JOSE header, ``kid`` and ``alg`` the key id and algorithm it was
    verified with. Accessors return ``None`` (or an empty value) when a claim is absent or
    of the wrong type, never raise::

        claims = verifier.verify(token)
        claims["azp"], claims.client_id, "orders:read" in claims.scopes

    ``roles`` and ``scopes`` are derived once per ``Claims`` (the verified-token cache keeps
    the object, so a cached token's policy check compares ready-made frozensets).
    """

    __slots__ = ("_payload", "_roles", "_scopes", "alg", "header", "kid")

    def __init__(
        self, payload: dict[str, Any], header: Mapping[str, Any], kid: str | None, alg: str | None
    ) -> None:
        self._payload = payload
        self._roles: frozenset[str] | None = None
        self._scopes: frozenset[str] | None = None
        self.header = header
        """The JOSE header (``alg``, ``kid``, ``typ``...)."""
        self.kid = kid
        """The ``kid`` of the key that verified the token (``None`` when it had none)."""
        self.alg = alg
        """The JWS algorithm the token was verified with (``None`` for introspection)."""

    def __getitem__(self, name: str) -> Any:
        return self._payload[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._payload)

    def __len__(self) -> int:
        return len(self._payload)

    def __contains__(self, name: object) -> bool:
        return name in self._payload

    def get(self, name: str, default: Any = None) -> Any:
        """``claims[name]`` or ``default``."""
        return self._payload.get(name, default)

    def __repr__(self) -> str:
        # Only the issuer and the caller's client id: claim values stay out of logs.
        return f"Claims(iss={self.issuer!r}, azp={self.azp!r}, kid={self.kid!r}, alg={self.alg!r})"

    def to_dict(self) -> dict[str, Any]:
        """A shallow copy of the payload as a plain dict."""
        return dict(self._payload)

    @property
    def issuer(self) -> str | None:
        """``iss``."""
        return _str_or_none(self._payload.get("iss"))

    @property
    def subject(self) -> str | None:
        """``sub`` (for a Keycloak service account, the service-account user's id)."""
        return _str_or_none(self._payload.get("sub"))

    @property
    def azp(self) -> str | None:
        """``azp``, the client the token was issued to."""
        return _str_or_none(self._payload.get("azp"))

    @property
    def client_id(self) -> str | None:
        """``client_id`` (Keycloak service accounts and RFC 9068 tokens carry it)."""
        return _str_or_none(self._payload.get("client_id"))

    @property
    def token_type(self) -> str | None:
        """Keycloak's ``typ`` claim (``Bearer``, ``ID``, ``Refresh``)."""
        return _str_or_none(self._payload.get("typ"))

    @property
    def audience(self) -> tuple[str, ...]:
        """``aud`` as a tuple of strings (a single string becomes a one-tuple)."""
        aud = self._payload.get("aud")
        if type(aud) is str:
            return (aud,)
        if type(aud) is list:
            return tuple(a for a in aud if type(a) is str)
        return ()

    @property
    def expires_at(self) -> float | None:
        """``exp`` in seconds since the epoch."""
        exp: Any = self._payload.get("exp")
        return float(exp) if type(exp) in (int, float) else None

    @property
    def issued_at(self) -> float | None:
        """``iat`` in seconds since the epoch, when present."""
        iat: Any = self._payload.get("iat")
        return float(iat) if type(iat) in (int, float) else None

    @property
    def scopes(self) -> frozenset[str]:
        """Scopes from the ``scope`` string (space separated) or an ``scp`` list."""
        scopes = self._scopes
        if scopes is None:
            scopes = self._scopes = scopes_of(self._payload)
        return scopes

    @property
    def roles(self) -> frozenset[str]:
        """Keycloak's ``realm:<role>`` and ``<client>:<role>`` names (see :func:`roles_of`);
        a policy with another profile reads the profile's own ``roles``."""
        roles = self._roles
        if roles is None:
            roles = self._roles = roles_of(self._payload)
        return roles
