"""JWKS endpoint faults and key rotation, against a real DevIdP over HTTP.

- The JWKS endpoint down (503, refused connections, slower than the fetch timeout):
  verification goes on with the cached keys up to ``stale_for`` (injected monotonic clock),
  then ``jwks_unavailable``.
- Key rotation during traffic: threads verify shop-api tokens from a caching caller while
  the provider rotates its signing key and later retires the old one: zero refusals.
- A new kid seen within the cooldown of the last fetch: refused (``key_not_found``) until
  the cooldown ends, then found with one fetch (the price of the unknown-kid flood guard).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from fault_kit import FakeClock

from svcauth import InvalidTokenError, KeySetUnavailableError
from svcauth.devidp import DevIdP
from svcauth.receiver import RemoteKeySet, Verifier

AUDIENCE = "notification-service"
MAX_AGE, COOLDOWN, STALE_FOR = 600.0, 30.0, 3_600.0


def _verifier(idp: DevIdP, clock: FakeClock, *, timeout: float = 5.0) -> tuple[Verifier, RemoteKeySet]:
    keys = RemoteKeySet(idp.jwks_uri, issuer=idp.issuer, max_age=MAX_AGE, cooldown=COOLDOWN,
                        stale_for=STALE_FOR, timeout=timeout, clock=clock)
    return Verifier(issuer=idp.issuer, audience=AUDIENCE, key_set=keys, cache=None), keys


def _successful(keys: RemoteKeySet) -> int:
    return int(keys.stats["fetches"] - keys.stats["fetch_failures"])


def _503(idp: DevIdP) -> None:
    idp.set_fault("certs", status=503)


def _down(idp: DevIdP) -> None:
    idp.stop()


def _slow(idp: DevIdP) -> None:
    idp.set_fault("certs", delay=5.0)  # the key set's timeout is 2 s


OUTAGES: list[tuple[str, Callable[[DevIdP], None]]] = [
    ("http_503", _503), ("connection_refused", _down), ("slower_than_timeout", _slow)]


@pytest.mark.parametrize(("name", "outage"), OUTAGES, ids=[o[0] for o in OUTAGES])
def test_jwks_outage_keeps_cached_keys_until_the_stale_limit_then_jwks_unavailable(
        idp: DevIdP, name: str, outage: Callable[[DevIdP], None]) -> None:
    clock = FakeClock()
    verifier, keys = _verifier(idp, clock, timeout=2.0)  # a healthy fetch under load fits
    token = idp.mint_token("shop-api", lifetime=36_000)
    assert verifier.verify(token)["azp"] == "shop-api"
    assert idp.stats()["jwks_fetches"] == 1
    outage(idp)

    for at in (MAX_AGE + 1, MAX_AGE + COOLDOWN + 2, STALE_FOR / 2, STALE_FOR - 1):
        clock.set(1_000.0 + at)
        assert verifier.verify(token)["azp"] == "shop-api"  # stale keys still verify
    assert _successful(keys) == 1
    assert keys.stats["fetch_failures"] >= 2 and keys.stats["stale_served"] >= 1

    clock.set(1_000.0 + STALE_FOR + 1)
    with pytest.raises(KeySetUnavailableError) as caught:
        verifier.verify(token)
    assert caught.value.code == "jwks_unavailable"

    # Recovery: the endpoint answers again; after the cooldown the keys are fetched anew.
    if name == "connection_refused":
        idp.start()
    idp.clear_faults()
    clock.advance(COOLDOWN + 1)
    assert verifier.verify(token)["azp"] == "shop-api"
    assert _successful(keys) == 2


def test_key_rotation_during_traffic_refuses_no_valid_request(idp: DevIdP) -> None:
    """Old and new tokens verify throughout: the rotated-in kid comes after the cooldown of
    the last fetch (as when keys are refreshed every few minutes), the old key is retired
    only after the last token it signed has expired."""
    clock = FakeClock()
    verifier, keys = _verifier(idp, clock)
    tokens = [idp.mint_token("shop-api", lifetime=300)]
    verifier.verify(tokens[0])
    refused: list[tuple[str, str]] = []
    accepted = [0]
    passes = [0] * 4
    phase = ["before"]
    stop = threading.Event()
    lock = threading.Lock()

    def traffic(n: int) -> None:
        while not stop.is_set():
            for token in list(tokens):
                try:
                    verifier.verify(token)
                except (InvalidTokenError, KeySetUnavailableError) as exc:
                    with lock:
                        refused.append((phase[0], exc.code))
                else:
                    with lock:
                        accepted[0] += 1
            passes[n] += 1

    def every_worker_passed_twice() -> None:
        start = list(passes)
        _wait(lambda: all(p >= s + 2 for p, s in zip(passes, start, strict=True)),
              lambda: f"two passes of every worker ({passes})")

    workers = [threading.Thread(target=traffic, args=(n,)) for n in range(4)]
    for w in workers:
        w.start()
    try:
        old_kid = idp.active_kid
        clock.advance(COOLDOWN + 5)
        phase[0] = "rotated"
        new_kid = idp.rotate_keys()
        tokens.append(idp.mint_token("shop-api", lifetime=300))   # signed with the new key
        every_worker_passed_twice()                                # each verified it
        assert keys.stats["unknown_kid_refetches"] == 1
        clock.advance(MAX_AGE)                                     # a scheduled refresh
        _wait(lambda: keys.stats["fetches"] >= 3, lambda: f"a third fetch ({keys.stats}, {passes}, {accepted}, {refused[:3]})")
        tokens[:] = [idp.mint_token("shop-api", lifetime=300)]    # old tokens have expired
        every_worker_passed_twice()
        phase[0] = "retired"
        idp.retire_key(old_kid)
        clock.advance(MAX_AGE)
        _wait(lambda: keys.stats["fetches"] >= 4, lambda: f"a fourth fetch ({keys.stats}, {passes}, {accepted}, {refused[:3]})")
        before = accepted[0]
        _wait(lambda: accepted[0] > before + 1_000, "1,000 more accepted")
    finally:
        stop.set()
        for w in workers:
            w.join()
    assert refused == []
    assert new_kid != old_kid and idp.active_kid == new_kid
    assert _successful(keys) == 4  # first, new kid, two scheduled refreshes


def _wait(predicate: Callable[[], bool], what: str | Callable[[], str],
          timeout: float = 60.0) -> None:
    done = threading.Event()
    for _ in range(int(timeout * 100)):
        if predicate():
            return
        done.wait(0.01)
    raise AssertionError(f"timed out waiting for {what if isinstance(what, str) else what()}")


def test_new_kid_within_the_cooldown_is_refused_until_it_ends_then_found(idp: DevIdP) -> None:
    clock = FakeClock()
    verifier, keys = _verifier(idp, clock)
    verifier.verify(idp.mint_token("shop-api"))
    idp.rotate_keys()
    fresh = idp.mint_token("shop-api")
    clock.advance(COOLDOWN - 1)
    with pytest.raises(InvalidTokenError) as caught:
        verifier.verify(fresh)
    assert caught.value.code == "key_not_found"
    assert _successful(keys) == 1
    clock.advance(2)
    assert verifier.verify(fresh)["azp"] == "shop-api"
    assert _successful(keys) == 2


