"""RemoteKeySet behind httpx.MockTransport with an injected clock: single flight, max age and
refresh ahead, unknown-kid cooldown, stale-if-error, fetch rules (caps, redirects, HTML)."""

from __future__ import annotations

import asyncio
import gzip
import logging
import threading
from typing import Any

import httpx
import pytest
from receiver_support import AUDIENCE, ISSUER, JWKS_URI, OTHER_ISSUER, Clock, JwksEndpoint, Realm

from svcauth._errors import InvalidTokenError, KeySetUnavailableError
from svcauth.receiver import RemoteKeySet, Verifier


def _setup(**options: Any) -> tuple[Realm, JwksEndpoint, RemoteKeySet, Clock]:
    realm = Realm()
    realm.add_key("RS256", kid="k1")
    endpoint = JwksEndpoint(realm.jwks())
    clock = Clock(1000.0)
    keys = RemoteKeySet(JWKS_URI, issuer=ISSUER, clock=clock, http_client=endpoint.client(),
                        **options)
    return realm, endpoint, keys, clock


def test_first_lookup_fetches_once_then_serves_from_memory() -> None:
    _, endpoint, keys, _ = _setup()
    assert keys.get_key("k1", "RS256") is keys.get_key("k1", "RS256")
    assert endpoint.requests == 1 and keys.fetch_count == 1


def test_keys_are_refetched_ahead_of_max_age() -> None:
    _, endpoint, keys, clock = _setup(max_age=600)
    keys.get_key("k1", "RS256")
    clock.advance(479)
    keys.get_key("k1", "RS256")
    assert endpoint.requests == 1
    clock.advance(2)  # past 80 % of max age
    keys.get_key("k1", "RS256")
    assert endpoint.requests == 2
    keys.get_key("k1", "RS256")
    assert endpoint.requests == 2


def test_unknown_kid_refetches_once_per_cooldown() -> None:
    _, endpoint, keys, clock = _setup(cooldown=30)
    keys.get_key("k1", "RS256")
    clock.advance(31)
    for n in range(10_000):
        with pytest.raises(InvalidTokenError) as info:
            keys.get_key(f"made-up-{n}", "RS256")
        assert info.value.code == "key_not_found"
    assert endpoint.requests == 2
    assert keys.stats["unknown_kid_refetches"] == 1
    assert keys.stats["key_not_found"] == 10_000
    clock.advance(30)
    with pytest.raises(InvalidTokenError):
        keys.get_key("made-up-again", "RS256")
    assert endpoint.requests == 3


def test_unknown_kid_right_after_a_fetch_is_refused_without_fetching() -> None:
    _, endpoint, keys, clock = _setup(cooldown=30)
    keys.get_key("k1", "RS256")
    clock.advance(29)
    with pytest.raises(InvalidTokenError) as info:
        keys.get_key("k2", "RS256")
    assert info.value.code == "key_not_found" and endpoint.requests == 1


def test_rotated_key_is_found_by_the_unknown_kid_refetch() -> None:
    realm, endpoint, keys, clock = _setup(cooldown=30)
    keys.get_key("k1", "RS256")
    realm.add_key("RS256", kid="k2")
    endpoint.document = realm.jwks()
    clock.advance(30)
    assert keys.get_key("k2", "RS256") is not None
    assert endpoint.requests == 2


def test_removed_key_marks_its_entry_dead_and_unchanged_keys_survive() -> None:
    realm, endpoint, keys, clock = _setup()
    realm.add_key("RS256", kid="k2")
    endpoint.document = realm.jwks()
    e1 = keys.resolve("k1", "RS256")
    e2 = keys.resolve("k2", "RS256")
    del realm.keys["k2"]
    endpoint.document = realm.jwks()
    clock.advance(600)
    assert keys.resolve("k1", "RS256") is e1 and e1.alive
    assert not e2.alive


def test_stale_keys_serve_while_the_endpoint_fails_then_expire(
    caplog: pytest.LogCaptureFixture,
) -> None:
    _, endpoint, keys, clock = _setup(max_age=600, stale_for=3600, cooldown=30)
    key = keys.get_key("k1", "RS256")
    endpoint.respond = lambda request: httpx.Response(503, text="down")
    clock.advance(700)
    with caplog.at_level(logging.WARNING, logger="svcauth.receiver"):
        assert keys.get_key("k1", "RS256") is key
    assert "stale-if-error" in caplog.text
    assert endpoint.requests == 2
    for _ in range(100):  # during the cooldown nobody waits on a fetch
        assert keys.get_key("k1", "RS256") is key
    assert endpoint.requests == 2 and keys.stats["stale_served"] == 101
    clock.advance(31)
    keys.get_key("k1", "RS256")
    assert endpoint.requests == 3
    clock.advance(3600)
    with pytest.raises(KeySetUnavailableError):
        keys.get_key("k1", "RS256")


def test_no_keys_and_failing_endpoint_is_unavailable_and_retried_after_cooldown() -> None:
    _, endpoint, keys, clock = _setup(cooldown=30)
    good = endpoint.document
    endpoint.respond = lambda request: httpx.Response(500)
    with pytest.raises(KeySetUnavailableError) as info:
        keys.get_key("k1", "RS256")
    assert "500" in info.value.message
    with pytest.raises(KeySetUnavailableError):
        keys.get_key("k1", "RS256")
    assert endpoint.requests == 1
    endpoint.respond = lambda request: httpx.Response(200, json=good)
    clock.advance(30)
    assert keys.get_key("k1", "RS256") is not None and endpoint.requests == 2


BAD_ANSWERS: list[tuple[str, Any, str]] = [
    ("redirect", lambda r: httpx.Response(302, headers={"Location": "http://evil/jwks"}),
     "redirect"),
    ("HTML", lambda r: httpx.Response(200, text="<html>login</html>",
                                      headers={"Content-Type": "text/html"}), "media type"),
    ("not JSON", lambda r: httpx.Response(200, content=b"{nope",
                                          headers={"Content-Type": "application/json"}), "JSON"),
    ("a JSON array", lambda r: httpx.Response(200, json=[1]), "JSON object"),
    ("no keys member", lambda r: httpx.Response(200, json={"x": 1}), "'keys'"),
    ("only enc keys", None, "usable signing key"),
    ("declared 50 MiB", lambda r: httpx.Response(
        200, content=b"{}", headers={"Content-Length": str(50 << 20)}), "bytes"),
    ("gzip encoded", lambda r: httpx.Response(200, content=gzip.compress(b"{}"), headers={
        "Content-Encoding": "gzip", "Content-Type": "application/json"}), "encoding"),
    ("connection refused", lambda r: (_ for _ in ()).throw(httpx.ConnectError("refused")),
     "unreachable"),
    ("read timeout", lambda r: (_ for _ in ()).throw(httpx.ReadTimeout("slow")),
     "unreachable (ReadTimeout)"),
    ("server error", lambda r: httpx.Response(500, text="boom"), "found 500"),
]


@pytest.mark.parametrize(("name", "respond", "fragment"), BAD_ANSWERS,
                         ids=[c[0] for c in BAD_ANSWERS])
def test_bad_jwks_answers_are_errors_and_keep_nothing(name: str, respond: Any,
                                                      fragment: str) -> None:
    realm, endpoint, keys, _ = _setup()
    if respond is None:
        endpoint.document = realm.jwks(use="enc")
    else:
        endpoint.respond = respond
    with pytest.raises(KeySetUnavailableError) as info:
        keys.get_key("k1", "RS256")
    assert fragment in info.value.message
    assert keys.stats["keys"] == 0 and keys.stats["fetch_failures"] == 1


def test_streamed_50_mib_body_is_cut_at_the_cap() -> None:
    served = 0

    def chunks() -> Any:
        nonlocal served
        for _ in range(50 * 16):
            served += 64 * 1024
            yield b" " * (64 * 1024)

    _, endpoint, keys, _ = _setup(max_bytes=512 * 1024)
    endpoint.respond = lambda r: httpx.Response(200, content=chunks(),
                                                headers={"Content-Type": "application/json"})
    with pytest.raises(KeySetUnavailableError) as info:
        keys.get_key("k1", "RS256")
    assert "at most 524288 bytes" in info.value.message
    assert served <= 512 * 1024 + 64 * 1024


def test_threads_share_one_fetch() -> None:
    _, endpoint, keys, _ = _setup()
    endpoint.release = threading.Event()
    results: list[Any] = []
    first = threading.Thread(target=lambda: results.append(keys.get_key("k1", "RS256")))
    first.start()
    assert endpoint.entered.wait(5)
    others = [threading.Thread(target=lambda: results.append(keys.get_key("k1", "RS256")))
              for _ in range(20)]
    for t in others:
        t.start()
    endpoint.release.set()
    for t in [first, *others]:
        t.join(10)
    assert len(results) == 21 and len({id(k) for k in results}) == 1
    assert endpoint.requests == 1 and keys.fetch_count == 1


@pytest.mark.anyio
async def test_tasks_share_one_fetch() -> None:
    realm = Realm()
    realm.add_key("RS256", kid="k1")
    endpoint = JwksEndpoint(realm.jwks())
    gate = asyncio.Event()
    keys = RemoteKeySet(JWKS_URI, issuer=ISSUER, clock=Clock(),
                        async_http_client=endpoint.async_client(gate))
    tasks = [asyncio.create_task(keys.aget_key("k1", "RS256")) for _ in range(50)]
    await asyncio.sleep(0)
    gate.set()
    found = await asyncio.gather(*tasks)
    assert len({id(k) for k in found}) == 1
    assert endpoint.requests == 1 and keys.fetch_count == 1


@pytest.mark.anyio
async def test_async_unknown_kid_flood_costs_one_fetch() -> None:
    realm = Realm()
    realm.add_key("RS256", kid="k1")
    endpoint = JwksEndpoint(realm.jwks())
    keys = RemoteKeySet(JWKS_URI, issuer=ISSUER, clock=Clock(),
                        async_http_client=endpoint.async_client())
    results = await asyncio.gather(*(keys.aget_key(f"kid-{n}", "RS256") for n in range(2000)),
                                   return_exceptions=True)
    assert all(isinstance(r, InvalidTokenError) and r.code == "key_not_found" for r in results)
    assert endpoint.requests == 1


@pytest.mark.anyio
async def test_async_redirect_is_refused() -> None:
    endpoint = JwksEndpoint()
    endpoint.respond = lambda r: httpx.Response(301, headers={"Location": JWKS_URI + "x"})
    keys = RemoteKeySet(JWKS_URI, issuer=ISSUER, clock=Clock(),
                        async_http_client=endpoint.async_client())
    with pytest.raises(KeySetUnavailableError) as info:
        await keys.aget_key("k1", "RS256")
    assert "redirect" in info.value.message and endpoint.requests == 1


def test_token_of_another_realm_with_the_same_kid_is_refused() -> None:
    _, _, keys, _ = _setup()
    other = Realm(OTHER_ISSUER)
    other.add_key("RS256", kid="k1")
    verifier = Verifier(issuer=ISSUER, audience=AUDIENCE, key_set=keys, cache=None)
    from receiver_support import service_claims

    with pytest.raises(InvalidTokenError) as info:
        verifier.verify(other.token(service_claims(iss=OTHER_ISSUER)))
    assert info.value.code == "signature_invalid"


def test_key_set_of_one_issuer_cannot_back_a_verifier_of_another() -> None:
    from svcauth._errors import ConfigurationError

    _, _, keys, _ = _setup()
    with pytest.raises(ConfigurationError):
        Verifier(issuer=OTHER_ISSUER, audience=AUDIENCE, key_set=keys)


def test_refresh_fetches_even_during_cooldown() -> None:
    _, endpoint, keys, _ = _setup()
    assert keys.refresh() is True
    assert keys.refresh() is True
    assert endpoint.requests == 2


def test_from_discovery_reads_jwks_uri() -> None:
    realm = Realm()
    realm.add_key("RS256", kid="k1")

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("openid-configuration"):
            return httpx.Response(200, json={"issuer": ISSUER, "jwks_uri": JWKS_URI,
                                             "token_endpoint": ISSUER + "/token"})
        assert str(request.url) == JWKS_URI
        return httpx.Response(200, json=realm.jwks())

    client = httpx.Client(transport=httpx.MockTransport(handler))
    keys = RemoteKeySet.from_discovery(ISSUER, http_client=client)
    assert keys.jwks_uri == JWKS_URI and keys.get_key("k1", "RS256") is not None


@pytest.mark.anyio
async def test_async_verifier_end_to_end_with_refresh_ahead_and_stale_if_error() -> None:
    from receiver_support import service_claims

    realm = Realm()
    realm.add_key("RS256", kid="k1")
    endpoint = JwksEndpoint(realm.jwks())
    mono = Clock(0.0)
    keys = RemoteKeySet(JWKS_URI, issuer=ISSUER, clock=mono, max_age=600,
                        async_http_client=endpoint.async_client())
    verifier = Verifier(issuer=ISSUER, audience=AUDIENCE, key_set=keys, cache=None,
                        clock=Clock())
    token = realm.token(service_claims())
    assert (await verifier.averify(token)).kid == "k1"
    mono.advance(481)  # refresh ahead
    await verifier.averify(token)
    assert endpoint.requests == 2
    endpoint.respond = lambda r: httpx.Response(503)
    mono.advance(700)  # past max age, endpoint down: stale keys keep verifying
    assert (await verifier.averify(token)).kid == "k1"
    assert endpoint.requests == 3 and keys.stats["fetch_failures"] == 1


@pytest.mark.anyio
async def test_afrom_discovery_reads_jwks_uri() -> None:
    realm = Realm()
    realm.add_key("ES256", kid="e1")

    async def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("openid-configuration"):
            return httpx.Response(200, json={"issuer": ISSUER, "jwks_uri": JWKS_URI,
                                             "token_endpoint": ISSUER + "/token"})
        return httpx.Response(200, json=realm.jwks())

    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    keys = await RemoteKeySet.afrom_discovery(ISSUER, async_http_client=client)
    assert await keys.aget_key("e1", "ES256") is not None and keys.fetch_count == 1


@pytest.mark.anyio
async def test_a_task_waits_for_a_fetch_started_by_a_thread() -> None:
    realm = Realm()
    realm.add_key("RS256", kid="k1")
    endpoint = JwksEndpoint(realm.jwks())
    endpoint.release = threading.Event()
    keys = RemoteKeySet(JWKS_URI, issuer=ISSUER, clock=Clock(), http_client=endpoint.client(),
                        async_http_client=endpoint.async_client())
    found: list[Any] = []
    thread = threading.Thread(target=lambda: found.append(keys.get_key("k1", "RS256")))
    thread.start()
    assert endpoint.entered.wait(5)
    task = asyncio.create_task(keys.aget_key("k1", "RS256"))
    await asyncio.sleep(0)
    assert not task.done()
    endpoint.release.set()
    assert await task is not None
    thread.join(5)
    assert found and endpoint.requests == 1 and keys.fetch_count == 1


def test_skipped_encryption_key_is_routine_but_a_key_with_private_material_warns(
        caplog: pytest.LogCaptureFixture) -> None:
    realm = Realm()
    realm.add_key("RS256", kid="k1")
    jwks = realm.jwks()
    public = dict(jwks["keys"][0])
    jwks["keys"] += [{**public, "kid": "enc", "use": "enc", "alg": "RSA-OAEP"},
                     {**public, "kid": "leaky", "d": "AQAB"}]
    keys = RemoteKeySet(JWKS_URI, issuer=ISSUER, clock=Clock(1000.0),
                        http_client=JwksEndpoint(jwks).client())
    with caplog.at_level(logging.DEBUG, logger="svcauth"):
        keys.get_key("k1", "RS256")
    levels = {r.getMessage().rsplit("ignoring ", 1)[1]: r.levelno for r in caplog.records
              if "ignoring" in r.getMessage()}
    assert levels == {"key #1: use is not 'sig'": logging.DEBUG,
                      "key #2: holds private or symmetric key material": logging.WARNING}
