"""VerifiedTokenCache through the Verifier: hits skip verification, entries end at
min(exp, now + ttl), LRU bound, entries of keys that left the JWKS are dropped."""

from __future__ import annotations

from typing import Any

import pytest
from receiver_support import AUDIENCE, ISSUER, JWKS_URI, NOW, Clock, JwksEndpoint, Realm, service_claims

from svcauth._errors import InvalidTokenError
from svcauth.receiver import RemoteKeySet, StaticKeySet, VerifiedTokenCache, Verifier


class CountingKeys:
    """A foreign key set (only get_key/aget_key) that counts lookups."""

    def __init__(self, realm: Realm) -> None:
        self.inner = StaticKeySet(realm.jwks(), issuer=ISSUER)
        self.issuer = ISSUER
        self.calls = 0

    def get_key(self, kid: str | None, alg: str) -> Any:
        self.calls += 1
        return self.inner.get_key(kid, alg)

    async def aget_key(self, kid: str | None, alg: str) -> Any:
        return self.get_key(kid, alg)


def _setup(ttl: float = 300, maxsize: int = 100) -> tuple[Realm, CountingKeys, Verifier, Clock]:
    realm = Realm()
    realm.add_key("RS256", kid="k1")
    keys = CountingKeys(realm)
    clock = Clock()
    cache = VerifiedTokenCache(maxsize=maxsize, ttl=ttl, clock=clock)
    verifier = Verifier(issuer=ISSUER, audience=AUDIENCE, key_set=keys, clock=clock, cache=cache)
    return realm, keys, verifier, clock


def test_hit_returns_the_same_claims_without_verifying_again() -> None:
    realm, keys, verifier, _ = _setup()
    token = realm.token()
    first = verifier.verify(token)
    assert verifier.verify(token) is first
    assert keys.calls == 1
    assert verifier.cache is not None and verifier.cache.hits == 1


@pytest.mark.anyio
async def test_async_hit_skips_verification_too() -> None:
    realm, keys, verifier, _ = _setup()
    token = realm.token()
    assert await verifier.averify(token) is await verifier.averify(token)
    assert keys.calls == 1


def test_entry_ends_at_exp_not_at_exp_plus_leeway() -> None:
    realm, keys, verifier, clock = _setup(ttl=1000)
    token = realm.token(service_claims(exp=int(NOW) + 100))
    verifier.verify(token)
    clock.advance(99)
    verifier.verify(token)
    assert keys.calls == 1
    clock.advance(1)  # at exp: still inside the leeway, verified again, and not cached
    verifier.verify(token)
    verifier.verify(token)
    assert keys.calls == 3
    clock.advance(30)
    with pytest.raises(InvalidTokenError) as info:
        verifier.verify(token)
    assert info.value.code == "token_expired"


def test_entry_ends_after_ttl() -> None:
    realm, keys, verifier, clock = _setup(ttl=60)
    token = realm.token()
    verifier.verify(token)
    clock.advance(59)
    verifier.verify(token)
    clock.advance(1)
    verifier.verify(token)
    assert keys.calls == 2


def test_token_accepted_inside_the_leeway_is_not_cached() -> None:
    realm, _, verifier, _ = _setup()
    verifier.verify(realm.token(service_claims(exp=int(NOW) - 10)))
    assert verifier.cache is not None and len(verifier.cache) == 0


def test_cache_is_bounded_least_recently_used_first() -> None:
    realm, keys, verifier, _ = _setup(maxsize=2)
    a, b, c = (realm.token() for _ in range(3))
    verifier.verify(a)
    verifier.verify(b)
    verifier.verify(a)  # a is now the most recent
    verifier.verify(c)  # evicts b
    assert verifier.cache is not None and len(verifier.cache) == 2
    calls = keys.calls
    verifier.verify(a)
    verifier.verify(c)
    assert keys.calls == calls
    verifier.verify(b)
    assert keys.calls == calls + 1


def test_refused_tokens_are_not_cached() -> None:
    realm, keys, verifier, _ = _setup()
    token = realm.token(service_claims(aud="shop-api"))
    for _ in range(2):
        with pytest.raises(InvalidTokenError):
            verifier.verify(token)
    assert keys.calls == 2


def test_entries_signed_by_a_key_that_left_the_jwks_are_dropped() -> None:
    realm = Realm()
    realm.add_key("RS256", kid="k1")
    endpoint = JwksEndpoint(realm.jwks())
    mono = Clock(0.0)
    wall = Clock()
    keys = RemoteKeySet(JWKS_URI, issuer=ISSUER, clock=mono, http_client=endpoint.client())
    verifier = Verifier(issuer=ISSUER, audience=AUDIENCE, key_set=keys, clock=wall,
                        cache=VerifiedTokenCache(clock=wall))
    token = realm.token()
    claims = verifier.verify(token)
    assert verifier.verify(token) is claims
    realm.keys.clear()
    realm.add_key("RS256", kid="k2")
    endpoint.document = realm.jwks()
    mono.advance(500)  # past refresh-ahead: the next lookup refetches and k1 is gone
    verifier.verify(realm.token())
    assert endpoint.requests == 2
    with pytest.raises(InvalidTokenError) as info:
        verifier.verify(token)
    assert info.value.code == "key_not_found"


def test_cache_parameters_are_checked() -> None:
    from svcauth._errors import ConfigurationError

    for bad in ({"maxsize": 0}, {"ttl": 0}):
        with pytest.raises(ConfigurationError):
            VerifiedTokenCache(**bad)
