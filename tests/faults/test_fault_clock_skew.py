"""Caller (token issuer) and receiver clocks skewed by up to ±60 s: within the 30 s leeway
tokens are accepted, beyond it refused with the exact code (``iat_in_future``,
``token_not_yet_valid``, ``token_expired``).

Tokens come from a running DevIdP whose clock is the receiver's plus the skew (Keycloak
issues ``iat`` and ``exp``, no ``nbf``; rows with ``nbf`` add it as some providers do); the
receiver's key set fetches the real JWKS. Both clocks are injected. Edges: `iat` may be up to
the leeway ahead (inclusive); a token is expired once `now >= exp + leeway`.
"""

from __future__ import annotations

import pytest

from mockmart.config import dev_env
from svcauth import InvalidTokenError
from svcauth.devidp import DevIdP
from svcauth.receiver import Guard, RemoteKeySet, ServicePolicy, Verifier

RECEIVER_NOW = 1_800_000_000.0
LEEWAY = 30.0

# (name, issuer clock minus receiver clock, token lifetime, with nbf, expected code or None)
SKEWS: list[tuple[str, float, int, bool, str | None]] = [
    ("issuer_ahead_20s", +20, 300, False, None),
    ("issuer_ahead_30s_edge", +30, 300, False, None),
    ("issuer_ahead_60s", +60, 300, False, "iat_in_future"),
    ("issuer_ahead_60s_with_nbf", +60, 300, True, "token_not_yet_valid"),
    ("issuer_ahead_20s_with_nbf", +20, 300, True, None),
    ("issuer_behind_60s_long_token", -60, 300, False, None),
    ("issuer_behind_60s_token_ends_20s_ago", -60, 40, False, None),
    ("issuer_behind_60s_token_ends_40s_ago", -60, 20, False, "token_expired"),
    ("issuer_behind_60s_token_ends_30s_ago_edge", -60, 30, False, "token_expired"),
    ("issuer_behind_60s_token_ends_29s_ago", -60, 31, False, None),
]


@pytest.fixture(scope="module")
def skewed() -> tuple[DevIdP, Guard]:
    with DevIdP("deploy/keycloak/techstore-realm.json", env=dev_env()) as idp:
        keys = RemoteKeySet(idp.jwks_uri, issuer=idp.issuer)
        verifier = Verifier(issuer=idp.issuer, audience="notification-service", key_set=keys,
                            leeway=LEEWAY, clock=lambda: RECEIVER_NOW, cache=None)
        guard = Guard(verifier, ServicePolicy(
            allowed_clients={"shop-api"},
            required_roles={"notification-service:notifications:send"}))
        yield idp, guard


@pytest.mark.parametrize(("name", "skew", "lifetime", "nbf", "code"), SKEWS,
                         ids=[s[0] for s in SKEWS])
def test_skewed_clocks_follow_the_leeway(skewed: tuple[DevIdP, Guard], name: str, skew: float,
                                         lifetime: int, nbf: bool, code: str | None) -> None:
    idp, guard = skewed
    issued = RECEIVER_NOW + skew
    extra = {"nbf": int(issued)} if nbf else None
    token = idp.mint_token("shop-api", now=issued, lifetime=lifetime, extra_claims=extra)
    if code is None:
        assert guard.authenticate(f"Bearer {token}").client_id == "shop-api"
        return
    with pytest.raises(InvalidTokenError) as caught:
        guard.authenticate(f"Bearer {token}")
    assert caught.value.code == code
    assert caught.value.status == 401
