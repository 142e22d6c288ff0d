"""Client authentication at the token endpoint: ``client_secret_basic`` (the default),
``client_secret_post`` and ``private_key_jwt`` (RFC 7523).

Each method turns a client id into request headers and form fields, tells its credential
apart by a fingerprint (a hash: never the secret) and can re-read a file-backed credential.
"""

from __future__ import annotations

import base64
import os
import secrets
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol, runtime_checkable
from urllib.parse import quote_plus

from .._errors import ConfigurationError
from .._jwk import load_private_key, public_jwk, thumbprint
from .._jws import PrivateKey, default_alg, sign_compact
from ._secrets import Secret, SecretFile

ASSERTION_LIFETIME = 60
"""Seconds a client assertion is valid (Keycloak 26 accepts at most 60 s by default)."""

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

Headers = dict[str, str]
Form = list[tuple[str, str]]


@runtime_checkable
class ClientAuth(Protocol):
    """How a client proves who it is to the token endpoint."""

    method: str
    """The ``token_endpoint_auth_method`` name (RFC 7591)."""

    def apply(self, client_id: str, token_endpoint: str) -> tuple[Headers, Form]:
        """Headers and form fields that authenticate ``client_id`` for one request."""
        ...

    def fingerprint(self) -> str:
        """Tells credentials apart for cache keys; reveals nothing usable."""
        ...

    def reload(self) -> bool:
        """Re-read a file-backed credential; True when it changed."""
        ...


class _SecretAuth:
    method = "client_secret_basic"

    def __init__(
        self, secret: str | Secret | None = None, *,
        secret_file: str | os.PathLike[str] | None = None,
    ) -> None:
        if (secret is None) == (secret_file is None):
            raise ConfigurationError(
                f"{self.method}: expected exactly one of secret= or secret_file=",
                code="config_missing" if secret is None else "config_invalid",
            )
        self._file = SecretFile(secret_file) if secret_file is not None else None
        self._secret = None if secret is None else (
            secret if isinstance(secret, Secret) else Secret(secret)
        )

    def secret(self) -> Secret:
        """The current secret (re-read from its file when the file changed)."""
        if self._file is not None:
            return self._file.current()
        assert self._secret is not None
        return self._secret

    def fingerprint(self) -> str:
        return f"{self.method}:{self.secret().fingerprint()}"

    def reload(self) -> bool:
        return self._file.reload() if self._file is not None else False

    def __repr__(self) -> str:
        where = f"secret_file={str(self._file.path)!r}" if self._file else "secret=Secret('***')"
        return f"{type(self).__name__}({where})"


class ClientSecretBasic(_SecretAuth):
    """HTTP Basic with the client id and secret, each form-urlencoded first (RFC 6749 §2.3.1).

    >>> ClientSecretBasic(secret_file="/run/secrets/shop-api")
    ClientSecretBasic(secret_file='/run/secrets/shop-api')
    """

    method = "client_secret_basic"

    def apply(self, client_id: str, token_endpoint: str) -> tuple[Headers, Form]:
        pair = f"{quote_plus(client_id, safe='')}:{quote_plus(self.secret().reveal(), safe='')}"
        encoded = base64.b64encode(pair.encode("utf-8")).decode("ascii")
        return {"Authorization": f"Basic {encoded}"}, []


class ClientSecretPost(_SecretAuth):
    """The client id and secret as form fields ``client_id`` / ``client_secret``."""

    method = "client_secret_post"

    def apply(self, client_id: str, token_endpoint: str) -> tuple[Headers, Form]:
        return {}, [("client_id", client_id), ("client_secret", self.secret().reveal())]


class _KeyFile:
    """A private key file (PEM or JWK), re-read when its mtime or size changes."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._loaded: tuple[PrivateKey, str | None] | None = None

    def _stat(self) -> tuple[int, int] | None:
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size)

    def current(self, force: bool = False) -> tuple[PrivateKey, str | None]:
        with self._lock:
            stamp = self._stat()
            if force or self._loaded is None or stamp != self._stamp:
                try:
                    self._loaded = load_private_key(self.path)
                except (OSError, ValueError, TypeError) as exc:
                    raise ConfigurationError(
                        f"private key file {str(self.path)!r}: expected a PEM or private JWK "
                        f"file ({type(exc).__name__})", code="config_invalid",
                    ) from None
                self._stamp = stamp
            return self._loaded


class PrivateKeyJWT:
    """``private_key_jwt`` (RFC 7523 §2.2): a signed client assertion per request.

    The assertion has ``iss`` = ``sub`` = the client id, a single ``aud`` (the token endpoint
    unless ``audience=`` names another, e.g. the issuer URL), a unique ``jti``, ``iat`` and
    ``exp`` = ``iat`` + 60 s. ``kid`` is the JWK's own or the RFC 7638 thumbprint.

    >>> PrivateKeyJWT(key_file="deploy/dev/inventory-sync.key.pem")  # doctest: +SKIP
    """

    method = "private_key_jwt"

    def __init__(
        self, key_file: str | os.PathLike[str] | None = None, *, key: PrivateKey | None = None,
        kid: str | None = None, alg: str | None = None, audience: str | None = None,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        if (key is None) == (key_file is None):
            raise ConfigurationError(
                "private_key_jwt: expected exactly one of key_file= or key=", code="config_missing"
            )
        self._file = _KeyFile(key_file) if key_file is not None else None
        self._key = key
        self._kid = kid
        self._alg = alg
        self.audience = audience
        self._wall_clock = wall_clock
        self._key_and_kid()  # fail at construction on an unreadable key

    def _key_and_kid(self, force: bool = False) -> tuple[PrivateKey, str]:
        if self._file is not None:
            key, file_kid = self._file.current(force)
        else:
            assert self._key is not None
            key, file_kid = self._key, None
        kid = self._kid or file_kid or thumbprint(public_jwk(key, kid=""))
        return key, kid

    def apply(self, client_id: str, token_endpoint: str) -> tuple[Headers, Form]:
        key, kid = self._key_and_kid()
        now = int(self._wall_clock())
        claims = {
            "iss": client_id, "sub": client_id, "aud": self.audience or token_endpoint,
            "jti": secrets.token_urlsafe(24), "iat": now, "exp": now + ASSERTION_LIFETIME,
        }
        assertion = sign_compact(claims, key, self._alg or default_alg(key), {"kid": kid, "typ": "JWT"})
        return {}, [
            ("client_id", client_id),
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", assertion),
        ]

    def fingerprint(self) -> str:
        key, _ = self._key_and_kid()
        return f"{self.method}:{thumbprint(public_jwk(key, kid=''))[:16]}"

    def reload(self) -> bool:
        if self._file is None:
            return False
        before = self.fingerprint()
        self._key_and_kid(force=True)
        return self.fingerprint() != before

    def __repr__(self) -> str:
        where = f"key_file={str(self._file.path)!r}" if self._file else "key=<private key>"
        return f"PrivateKeyJWT({where}, audience={self.audience!r})"
