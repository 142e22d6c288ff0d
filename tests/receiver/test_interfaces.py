"""Declared interfaces and configuration: the KeySource protocol, frozen configs whose
defaults are the constructors' defaults, and the introspection audience rule."""

from __future__ import annotations

import dataclasses
import inspect
import logging
from typing import Any

import httpx
import pytest
from receiver_support import AUDIENCE, ISSUER, JWKS_URI, Clock, Realm, service_claims

from svcauth._errors import ConfigurationError
from svcauth.receiver import (
    IntrospectionVerifier,
    KeySource,
    RemoteKeySet,
    RemoteKeySetConfig,
    StaticKeySet,
    Verifier,
    VerifierConfig,
)
from svcauth.receiver._keyset import ForeignKeySet, key_source

ENDPOINT = "https://idp.example/introspect"


def _defaults(fn: Any) -> dict[str, Any]:
    return {name: p.default for name, p in inspect.signature(fn).parameters.items()
            if p.default is not inspect.Parameter.empty}


@pytest.mark.parametrize(("config", "constructor"), [
    (VerifierConfig, Verifier.__init__),
    (RemoteKeySetConfig, RemoteKeySet.__init__),
])
def test_constructor_defaults_are_the_config_defaults(config: Any, constructor: Any) -> None:
    fields = {f.name: f.default for f in dataclasses.fields(config)
              if f.default is not dataclasses.MISSING}
    given = _defaults(constructor)
    assert fields and {name: given[name] for name in fields} == fields


def test_configs_are_frozen() -> None:
    config = RemoteKeySetConfig(JWKS_URI, ISSUER)
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.cooldown = 1.0  # type: ignore[misc]
    keys = RemoteKeySet(JWKS_URI, issuer=ISSUER, cooldown=10)
    assert keys.config == RemoteKeySetConfig(JWKS_URI, ISSUER, cooldown=10.0)


@pytest.mark.parametrize(("options", "expected"), [
    ({"jwks_uri": "ftp://x"}, r"expected an http\(s\) URL, found 'ftp://x'"),
    ({"issuer": ""}, "expected the issuer"),
    ({"cooldown": 0.0}, "expected 0 < cooldown <= max_age <= stale_for.*found cooldown=0.0"),
    ({"max_bytes": 10}, "max_bytes >= 1024, found .*max_bytes=10"),
])
def test_bad_remote_key_set_config_is_refused(options: dict[str, Any], expected: str) -> None:
    values: dict[str, Any] = {"jwks_uri": JWKS_URI, "issuer": ISSUER, **options}
    with pytest.raises(ConfigurationError, match=expected):
        RemoteKeySetConfig(**values)


def test_verifier_config_builds_the_same_verifier() -> None:
    realm = Realm()
    realm.add_key("RS256", kid="k1")
    keys = StaticKeySet(realm.jwks(), issuer=ISSUER)
    clock = Clock()
    verifier = VerifierConfig(ISSUER, AUDIENCE, leeway=5.0).build(keys, clock=clock, cache=None)
    assert (verifier.leeway, verifier.cache, verifier.audiences) == (5.0, None, {AUDIENCE})
    assert verifier.verify(realm.token(service_claims(), kid="k1")).azp == "inventory-sync"


class Foreign:
    """A KeySet of someone else: only get_key/aget_key, and an unrelated issuer attribute."""

    issuer = "https://elsewhere.example"

    def __init__(self, keys: StaticKeySet) -> None:
        self.keys = keys

    def get_key(self, kid: str | None, alg: str) -> Any:
        return self.keys.get_key(kid, alg)

    async def aget_key(self, kid: str | None, alg: str) -> Any:
        return self.keys.get_key(kid, alg)


def test_own_sets_are_key_sources_and_foreign_ones_are_adapted() -> None:
    realm = Realm()
    realm.add_key("RS256", kid="k1")
    static = StaticKeySet(realm.jwks(), issuer=ISSUER)
    remote = RemoteKeySet(JWKS_URI, issuer=ISSUER)
    assert key_source(static) is static and key_source(remote) is remote
    assert isinstance(static, KeySource) and isinstance(remote, KeySource)
    adapted = key_source(Foreign(static))
    # A KeySet declares no issuer: nothing is read off it with getattr.
    assert isinstance(adapted, ForeignKeySet) and adapted.issuer is None
    verifier = Verifier(issuer=ISSUER, audience=AUDIENCE, key_set=Foreign(static), clock=Clock())
    assert verifier.verify(realm.token(service_claims(), kid="k1")).azp == "inventory-sync"


def test_key_set_of_another_issuer_is_refused() -> None:
    remote = RemoteKeySet(JWKS_URI, issuer="https://other.example/realms/x")
    with pytest.raises(ConfigurationError, match="found a key set of"):
        Verifier(issuer=ISSUER, audience=AUDIENCE, key_set=remote)


def _client() -> httpx.Client:
    answer = {"active": True, "iss": ISSUER, "aud": "someone-else", "typ": "Bearer",
              "azp": "inventory-sync"}
    return httpx.Client(transport=httpx.MockTransport(lambda r: httpx.Response(200, json=answer)))


def test_introspection_without_an_audience_does_not_construct() -> None:
    with pytest.raises(ConfigurationError, match="pass audience=None") as caught:
        IntrospectionVerifier(ENDPOINT, issuer=ISSUER, client_id="c", client_secret="s")
    assert caught.value.code == "config_missing"


def test_introspection_audience_opt_out_is_explicit_and_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="svcauth.receiver"):
        verifier = IntrospectionVerifier(ENDPOINT, issuer=ISSUER, audience=None, client_id="c",
                                         client_secret="s", clock=Clock(), http_client=_client())
    assert [r.getMessage() for r in caplog.records] == [
        f"svcauth: IntrospectionVerifier for {ENDPOINT}: audience=None, the audience of "
        "introspected tokens is NOT checked (left to the provider)"]
    assert verifier.verify("t").azp == "inventory-sync"  # aud "someone-else" passes: opted out
