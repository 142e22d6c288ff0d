"""Key sets: where the verifier finds the public key for a token's ``kid`` and ``alg``.

Two declared interfaces, nothing found with ``getattr``:

- ``KeySet`` (``get_key``/``aget_key``) is what anyone may implement and pass to a verifier;
- ``KeySource`` is what the ``Verifier`` drives: ``issuer`` (the issuer the keys are bound
  to, ``None`` when the set does not say), ``lookup`` (no I/O) and ``resolve``/``aresolve``
  (may do I/O), all in terms of ``KeyEntry``. svcauth's own sets (``IndexedKeySet``:
  ``StaticKeySet``, ``RemoteKeySet``) are key sources; :func:`key_source` adapts any other
  ``KeySet`` through ``ForeignKeySet``.

``StaticKeySet`` holds fixed keys (tests, offline use); ``RemoteKeySet`` (in
``_remote_keyset``) fetches a JWKS. Both are bound to one issuer: a verifier only accepts a
key set of its own issuer.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from .._errors import ConfigurationError, InvalidTokenError
from .._jws import PublicKey
from ._keys import KeyEntry, KeyIndex, index_from_jwks, index_from_keys

__all__ = ["KeySet", "KeySource", "StaticKeySet", "key_source"]

log = logging.getLogger("svcauth.receiver")


@runtime_checkable
class KeySet(Protocol):
    """Finds the public key for a token's ``kid`` and ``alg``; safe for concurrent use.

    Raises ``InvalidTokenError(code="key_not_found")`` when no usable key fits, or
    ``KeySetUnavailableError`` when keys cannot be had at all.
    """

    def get_key(self, kid: str | None, alg: str) -> PublicKey:
        """The key for ``kid`` and ``alg`` (blocking)."""
        ...

    async def aget_key(self, kid: str | None, alg: str) -> PublicKey:
        """The key for ``kid`` and ``alg`` (asyncio)."""
        ...


@runtime_checkable
class KeySource(Protocol):
    """What a ``Verifier`` needs of a key set (see the module docs)."""

    @property
    def issuer(self) -> str | None:
        """The issuer the keys are bound to, or ``None`` when the set does not say."""
        ...

    def lookup(self, kid: str | None, alg: str) -> KeyEntry | None:
        """The entry for ``kid``/``alg`` when it is at hand without I/O, else ``None``."""
        ...

    def resolve(self, kid: str | None, alg: str) -> KeyEntry:
        """The entry for ``kid``/``alg``, doing I/O if needed (blocking); raises on failure."""
        ...

    async def aresolve(self, kid: str | None, alg: str) -> KeyEntry:
        """As :meth:`resolve`, on the event loop."""
        ...


def key_source(key_set: KeySet | KeySource) -> KeySource:
    """``key_set`` as the verifier's :class:`KeySource` (svcauth's own sets as they are, any
    other ``KeySet`` through :class:`ForeignKeySet`)."""
    if isinstance(key_set, IndexedKeySet):
        return key_set
    return ForeignKeySet(key_set)  # type: ignore[arg-type]


def key_not_found(kid: str | None, alg: str, known: int) -> InvalidTokenError:
    """The ``key_not_found`` refusal (the kid itself is not echoed: it is token bytes)."""
    what = "a key fitting alg " + alg + (" for the token's kid" if kid is not None else
                                         " (the token has no kid)")
    return InvalidTokenError(f"key: expected {what}, found none among {known} usable key(s)",
                             code="key_not_found")


class IndexedKeySet:
    """Shared machinery of svcauth's own key sets: entries looked up in a ``KeyIndex``.

    ``lookup`` is the verifier's fast path (no I/O, ``None`` when I/O is needed);
    ``resolve``/``aresolve`` do whatever I/O the set needs and raise on failure.
    """

    issuer: str | None

    def lookup(self, kid: str | None, alg: str) -> KeyEntry | None:
        """The entry for ``kid``/``alg`` when it is at hand without I/O, else ``None``."""
        raise NotImplementedError

    def resolve(self, kid: str | None, alg: str) -> KeyEntry:
        """The entry for ``kid``/``alg``, doing I/O if needed (blocking); raises on failure."""
        raise NotImplementedError

    async def aresolve(self, kid: str | None, alg: str) -> KeyEntry:
        """As :meth:`resolve`, on the event loop."""
        return self.resolve(kid, alg)

    def get_key(self, kid: str | None, alg: str) -> PublicKey:
        """The key for ``kid`` and ``alg`` (blocking)."""
        return self.resolve(kid, alg).key

    async def aget_key(self, kid: str | None, alg: str) -> PublicKey:
        """The key for ``kid`` and ``alg`` (asyncio)."""
        return (await self.aresolve(kid, alg)).key


def _log_skipped(index: KeyIndex, where: str) -> None:
    for reason in index.skipped:
        log.warning("svcauth: ignoring a key of %s: %s", where, reason)


class StaticKeySet(IndexedKeySet):
    """Fixed public keys for one issuer, for tests and offline use.

    ``jwks_or_keys`` is a JWKS document (``{"keys": [...]}``), a list of JWKs, or a mapping
    ``{kid: public key}`` of `cryptography` keys. JWKs go through the same rules as a
    remote JWKS (``use``, ``kty``/``alg`` fit, RSA >= 2048 bits)::

        keys = StaticKeySet({"keys": [public_jwk]}, issuer="https://idp/realms/techstore")
    """

    def __init__(
        self,
        jwks_or_keys: Mapping[str, Any] | Sequence[Mapping[str, Any]] | Mapping[str, PublicKey],
        *,
        issuer: str,
    ) -> None:
        if not issuer:
            raise ConfigurationError("StaticKeySet: expected an issuer, found none",
                                     code="config_missing")
        self.issuer = issuer
        """The issuer whose tokens these keys verify."""
        if isinstance(jwks_or_keys, Mapping) and "keys" not in jwks_or_keys and all(
            not isinstance(v, Mapping) for v in jwks_or_keys.values()
        ):
            index = index_from_keys(jwks_or_keys, issuer=issuer)
        else:
            try:
                index = index_from_jwks(jwks_or_keys, issuer=issuer)
            except ValueError as exc:
                raise ConfigurationError(f"StaticKeySet: {exc}") from None
        _log_skipped(index, "a static key set")
        self._index = index

    def __repr__(self) -> str:
        return f"StaticKeySet(issuer={self.issuer!r}, keys={len(self._index)})"

    @property
    def kids(self) -> frozenset[str | None]:
        """The kids of the usable keys."""
        return self._index.kids

    def lookup(self, kid: str | None, alg: str) -> KeyEntry | None:
        return self._index.lookup(kid, alg)

    def resolve(self, kid: str | None, alg: str) -> KeyEntry:
        entry = self._index.lookup(kid, alg)
        if entry is None:
            raise key_not_found(kid, alg, len(self._index.kids))
        return entry


class ForeignKeySet(IndexedKeySet):
    """Adapts any ``KeySet`` (``get_key``/``aget_key``) to :class:`KeySource`. A ``KeySet``
    declares no issuer, so its entries are bound to none (``issuer`` is ``None``)."""

    def __init__(self, inner: KeySet) -> None:
        self.inner = inner
        self.issuer: str | None = None
        self._entries: dict[tuple[str | None, str, int], KeyEntry] = {}

    def _entry(self, kid: str | None, alg: str, key: PublicKey) -> KeyEntry:
        slot = (kid, alg, id(key))
        entry = self._entries.get(slot)
        if entry is None or entry.key is not key:
            try:
                entry = KeyEntry(kid=kid, alg=alg, key=key, issuer=self.issuer, fingerprint=id(key))
            except ValueError:
                raise key_not_found(kid, alg, 0) from None
            if len(self._entries) > 256:
                self._entries.clear()
            self._entries[slot] = entry
        return entry

    def lookup(self, kid: str | None, alg: str) -> KeyEntry | None:
        return None

    def resolve(self, kid: str | None, alg: str) -> KeyEntry:
        return self._entry(kid, alg, self.inner.get_key(kid, alg))

    async def aresolve(self, kid: str | None, alg: str) -> KeyEntry:
        return self._entry(kid, alg, await self.inner.aget_key(kid, alg))
