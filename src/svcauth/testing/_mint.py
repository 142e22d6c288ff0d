"""Minting test tokens: :class:`TokenFactory` (no server) and :class:`LocalProvider` (the
embedded provider running on a free loopback port).

Both sign through a :class:`~svcauth.devidp.DevIdP`, so a minted token carries exactly the
claims its token endpoint would issue for that client or user (``DevIdP.token_claims``);
``claims=`` then adds, changes or — with :data:`MISSING` — removes claims. Nothing here
imports a web framework or pytest.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal

from .._errors import ConfigurationError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import rsa

    from ..devidp import DevIdP, Realm
    from ..receiver import RemoteKeySet, StaticKeySet, Verifier

__all__ = ["MISSING", "LocalProvider", "SigningKey", "TokenFactory"]

SigningKey = Literal["realm", "unknown", "forged"]
"""Which key signs a minted token: ``"realm"`` a published realm key; ``"unknown"`` a key
that is not in the JWKS under a kid that is not either (``key_not_found``); ``"forged"`` a
key that is not in the JWKS under the realm's active kid (``signature_invalid``)."""

EXPIRED_FOR: Final = 3600
"""``expired=True`` tokens expired this many seconds ago: past any verifier leeway (≤ 300 s)."""

DEFAULT_ISSUER_BASE: Final = "https://idp.svcauth.test"
"""Base URL of :class:`TokenFactory` issuers: ``<base>/realms/<realm>``."""

UNKNOWN_KID: Final = "svcauth-testing-unknown-key"
"""The kid of ``key="unknown"`` tokens."""


class _Missing:
    """The type of :data:`MISSING`."""

    _instance: _Missing | None = None

    def __new__(cls) -> _Missing:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "MISSING"

    def __reduce__(self) -> str:
        return "MISSING"


MISSING: Final = _Missing()
"""A claim value that removes the claim: ``mint("shop-api", claims={"azp": MISSING})``."""


@functools.cache
def _stranger_key() -> rsa.RSAPrivateKey:
    from cryptography.hazmat.primitives.asymmetric import rsa

    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def apply_claims(base: Mapping[str, Any], changes: Mapping[str, Any] | None) -> dict[str, Any]:
    """``base`` with ``changes`` applied: new and changed values set, :data:`MISSING` removed.

    >>> apply_claims({"a": 1, "b": 2}, {"b": MISSING, "c": 3})
    {'a': 1, 'c': 3}
    """
    out = dict(base)
    for name, value in (changes or {}).items():
        if value is MISSING:
            out.pop(name, None)
        else:
            out[name] = value
    return out


class TokenFactory:
    """Mints and verifies tokens of one realm with no server: a ``StaticKeySet`` on the
    realm's keys, and ``mint()`` that signs with them.

    ``realm`` is a :class:`~svcauth.devidp.Realm`, a realm file's path, or ``None`` for an
    empty realm named ``test`` (then only :meth:`sign` works: there is no client to mint
    for). The issuer is ``<issuer_base>/realms/<realm>``; ``audience`` is the default
    audience of :meth:`verifier`; ``clock`` is the time of minted tokens::

        tokens = TokenFactory("realm.json", env={"API_SECRET": "x"}, audience="billing-api")
        claims = tokens.verifier().verify(tokens.mint("invoicing-job"))
    """

    def __init__(
        self,
        realm: Realm | str | Path | None = None,
        *,
        env: Mapping[str, str] | None = None,
        issuer_base: str = DEFAULT_ISSUER_BASE,
        audience: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        from ..devidp import DevIdP

        self.idp: DevIdP = DevIdP(_realm(realm, env), hostname=issuer_base, clock=clock)
        """The (never started) provider whose keys and claims are used."""
        self.audience = audience
        """The default audience of :meth:`verifier` (None: it must be passed)."""
        self._clock = clock
        self._static: tuple[tuple[str, ...], StaticKeySet] | None = None

    @property
    def issuer(self) -> str:
        """The ``iss`` of minted tokens, and the issuer the verifiers expect."""
        return self.idp.issuer

    @property
    def realm(self) -> Realm:
        """The loaded realm (clients, users, roles)."""
        return self.idp.realm

    def jwks(self) -> dict[str, Any]:
        """The realm's public JWKS."""
        return self.idp.jwks()

    @property
    def static_key_set(self) -> StaticKeySet:
        """A ``StaticKeySet`` of the realm's published keys (no HTTP); rebuilt after a
        key rotation (``self.idp.rotate_keys()``)."""
        from ..receiver import StaticKeySet

        # Signing keys only: the realm's encryption key would be skipped with a warning.
        jwks = {"keys": [k for k in self.jwks()["keys"] if k.get("use", "sig") == "sig"]}
        kids = tuple(str(k.get("kid")) for k in jwks["keys"])
        if self._static is None or self._static[0] != kids:
            self._static = (kids, StaticKeySet(jwks, issuer=self.issuer))
        return self._static[1]

    @property
    def key_set(self) -> StaticKeySet | RemoteKeySet:
        """The key set :meth:`verifier` uses: here :attr:`static_key_set`."""
        return self.static_key_set

    def verifier(self, audience: str | None = None, **options: Any) -> Verifier:
        """A :class:`~svcauth.receiver.Verifier` for this issuer on :attr:`key_set`.

        ``audience`` defaults to :attr:`audience`; ``options`` go to ``Verifier`` as they
        are (``leeway``, ``clock``, ``cache``, ``token_types``, ...).
        """
        from ..receiver import Verifier

        aud = audience if audience is not None else self.audience
        if not aud:
            raise ConfigurationError(
                "verifier: expected an audience (the receiver's client id), found none: pass "
                "verifier('<client-id>') or set the svcauth_audience ini option",
                code="config_missing")
        return Verifier(issuer=self.issuer, audience=aud, key_set=self.key_set, **options)

    def mint(
        self,
        client_id: str,
        *,
        user: str | None = None,
        claims: Mapping[str, Any] | None = None,
        lifetime: int | None = None,
        now: float | None = None,
        expired: bool = False,
        key: SigningKey = "realm",
    ) -> str:
        """An access token for ``client_id``'s service account, or for ``user`` signed in
        at ``client_id``, with the claims the provider would issue, then ``claims`` applied
        (:data:`MISSING` removes one)::

            tokens.mint("invoicing-job")                           # what the endpoint issues
            tokens.mint("invoicing-job", claims={"aud": "other"})  # audience_mismatch
            tokens.mint("invoicing-job", claims={"exp": MISSING})  # claim_invalid
            tokens.mint("invoicing-job", expired=True)             # token_expired
            tokens.mint("invoicing-job", key="unknown")            # key_not_found
            tokens.mint("storefront", user="alice")                # a user token

        ``lifetime`` (seconds) and ``now`` (issue time) default to the realm's lifespan and
        the clock; ``expired=True`` moves ``iat`` and ``exp`` so that the token expired
        :data:`EXPIRED_FOR` seconds ago; ``key`` picks the signer (see :data:`SigningKey`).
        Raises ``ConfigurationError`` for a client or user the realm does not have.
        """
        base = self.idp.token_claims(client_id, user=user, lifetime=lifetime, now=now)
        if expired:
            shift = int(base["exp"]) - int(self._clock()) + EXPIRED_FOR
            base["exp"] = int(base["exp"]) - shift
            base["iat"] = int(base["iat"]) - shift
        return self.sign(apply_claims(base, claims), key=key)

    def headers(self, client_id: str, **mint_options: Any) -> dict[str, str]:
        """``{"Authorization": "Bearer <mint(client_id, **mint_options)>"}``."""
        return {"Authorization": "Bearer " + self.mint(client_id, **mint_options)}

    def sign(self, claims: Mapping[str, Any], *, key: SigningKey = "realm") -> str:
        """Sign exactly ``claims`` (RS256, header ``typ`` ``JWT`` and a ``kid``)."""
        if key == "realm":
            return self.idp.sign_claims(claims)
        if key not in ("unknown", "forged"):
            raise ConfigurationError(f"sign key: expected 'realm', 'unknown' or 'forged', "
                                     f"found {key!r}", code="config_invalid")
        from .._jws import sign_compact

        kid = UNKNOWN_KID if key == "unknown" else self.idp.active_kid
        return sign_compact(dict(claims), _stranger_key(), "RS256", {"typ": "JWT", "kid": kid})

    def __repr__(self) -> str:
        return f"{type(self).__name__}(realm={self.realm.name!r}, issuer={self.issuer!r})"


def _realm(realm: Realm | str | Path | None, env: Mapping[str, str] | None) -> Realm:
    from ..devidp import Realm, load_realm
    from ..devidp._realm import realm_from_dict

    if isinstance(realm, Realm):
        return realm
    if realm is None:
        return realm_from_dict({"realm": "test"}, {})
    return load_realm(realm, env or {})


class LocalProvider(TokenFactory):
    """The embedded provider serving a realm on ``http://127.0.0.1:<free port>``, plus
    everything :class:`TokenFactory` does; its :attr:`key_set` fetches the JWKS over HTTP
    as production does (:attr:`static_key_set` does not)::

        with LocalProvider.running("realm.json", env=env, audience="billing-api") as idp:
            httpx.post(idp.token_endpoint, data={...})
    """

    def __init__(self, idp: DevIdP, *, audience: str | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.idp = idp
        self.audience = audience
        self._clock = clock
        self._static = None
        self._remote: RemoteKeySet | None = None

    @classmethod
    @contextmanager
    def running(
        cls,
        realm: Realm | str | Path,
        *,
        env: Mapping[str, str] | None = None,
        audience: str | None = None,
        clock: Callable[[], float] = time.time,
        auth_path: str = "",
    ) -> Iterator[LocalProvider]:
        """Start a provider for ``realm`` on a free loopback port; stopped on exit."""
        from ..devidp import DevIdP

        with DevIdP(_realm(realm, env), clock=clock, auth_path=auth_path) as idp:
            yield cls(idp, audience=audience, clock=clock)

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return self.idp.base_url

    @property
    def token_endpoint(self) -> str:
        """The token endpoint (client credentials, password, introspection's sibling)."""
        return self.idp.token_endpoint

    @property
    def jwks_uri(self) -> str:
        """The JWKS URL."""
        return self.idp.jwks_uri

    @property
    def discovery_url(self) -> str:
        """``<issuer>/.well-known/openid-configuration``."""
        return self.idp.discovery_url

    @property
    def introspection_endpoint(self) -> str:
        """The RFC 7662 introspection URL."""
        return self.idp.introspection_endpoint

    @property
    def key_set(self) -> RemoteKeySet:
        """A ``RemoteKeySet`` on :attr:`jwks_uri` (one per provider: it fetches once, then
        caches, with its 30 s cooldown for unknown kids)."""
        if self._remote is None:
            from ..receiver import RemoteKeySet

            self._remote = RemoteKeySet(self.jwks_uri, issuer=self.issuer)
        return self._remote

    def client_secret(self, client_id: str) -> str:
        """The realm file's (resolved) secret of ``client_id``."""
        client = self.realm.clients.get(client_id)
        if client is None or client.secret is None:
            raise ConfigurationError(f"client_secret: expected a confidential client with a "
                                     f"secret, found {client_id!r}", code="config_invalid")
        return client.secret

    def caller_env(self, client_id: str) -> dict[str, str]:
        """The variables ``svcauth.caller.from_env`` reads, for ``client_id`` against this
        provider: ``OIDC_ISSUER``, ``KEYCLOAK_CLIENT_ID``, ``KEYCLOAK_CLIENT_SECRET``."""
        return {"OIDC_ISSUER": self.issuer, "KEYCLOAK_CLIENT_ID": client_id,
                "KEYCLOAK_CLIENT_SECRET": self.client_secret(client_id)}
