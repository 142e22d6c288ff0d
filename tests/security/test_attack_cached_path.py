"""The guard's cached path (a cheap ``Bearer <token>`` split and the policy decision kept
with the verified-token cache entry) answers exactly as the full path: every header shape
of the bearer table, on a guard whose cache already holds the token and its decision, gets
the full path's outcome and code; a token decided under one policy is judged afresh by
another; expiry, a cleared cache, DPoP proofs and impure policies are never skipped."""

from __future__ import annotations

from typing import Any

import pytest
from attack_kit import AUDIENCE, ISSUER, NOW, REQUIRED_ROLE, keys, mint, service_claims, user_claims
from dpop_kit import access_token, caller_key, other_key, proof, request
from dpop_kit import guard as dpop_guard
from dpop_kit import verifier as dpop_verifier
from test_bearer_header import ACCEPTED, REFUSED, TOKEN

from svcauth import AuthError, ConfigurationError, ForbiddenError, InvalidTokenError, SvcAuthError
from svcauth.receiver import (
    OnBehalfOfPolicy,
    ServicePolicy,
    StaticKeySet,
    UserPolicy,
    Verifier,
)
from svcauth.receiver._guard import AuthDecision, Guard


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


def _verifier(clock: Clock) -> Verifier:
    return Verifier(issuer=ISSUER, audience=AUDIENCE, key_set=StaticKeySet(keys().jwks(),
                    issuer=ISSUER), clock=clock)


class Counting(ServicePolicy):
    """A ServicePolicy that records every decision it makes (in a list outside itself:
    policies are sealed once built)."""

    def __init__(self, calls: list[int], **options: Any) -> None:
        object.__setattr__(self, "_calls", calls)
        super().__init__(**options)

    def authorize(self, claims: Any) -> Any:
        self._calls.append(1)  # type: ignore[attr-defined]
        return super().authorize(claims)


def _warm(**policy: Any) -> tuple[Guard[Any], str, Any, Clock, list[int]]:
    """A guard whose cache holds a valid token and its policy's decision."""
    clock, calls = Clock(), []
    token = mint(service_claims())
    guard: Guard[Any] = Guard(_verifier(clock), Counting(calls, **policy), realm="techstore")
    identity = guard.authenticate([f"Bearer {token}"])
    assert guard.authenticate([f"Bearer {token}"]) is identity  # the memoised decision
    assert calls == [1]
    return guard, token, identity, clock, calls


def _code(call: Any) -> tuple[type[Exception], str]:
    with pytest.raises(SvcAuthError) as caught:
        call()
    return type(caught.value), caught.value.code


def _with(value: Any, token: str) -> Any:
    if isinstance(value, str):
        return value.replace(TOKEN, token)
    if isinstance(value, list | tuple):
        return type(value)(v.replace(TOKEN, token) for v in value)
    return value


@pytest.mark.parametrize(("name", "value", "query_token", "error", "code"), REFUSED,
                         ids=[r[0] for r in REFUSED])
def test_every_refused_header_shape_is_refused_with_a_warm_cache(
    name: str, value: Any, query_token: bool, error: type[Exception], code: str,
) -> None:
    guard, token, _, _, calls = _warm()
    header = _with(value, token)
    header = [header] if isinstance(header, str) else header
    assert _code(lambda: guard.authenticate(header, query_token=query_token)) == (error, code)
    assert calls == [1]  # refused before the policy, as the full path does


@pytest.mark.parametrize(("name", "value", "expected"),
                         [r for r in ACCEPTED if r[2] == TOKEN], ids=lambda r: str(r)[:20])
def test_every_accepted_header_shape_gets_the_same_identity(name: str, value: Any,
                                                            expected: str) -> None:
    guard, token, identity, _, calls = _warm()
    header = _with(value, token)
    got = guard.authenticate(header)
    assert got == identity
    if name in CHEAP:  # "<scheme> <token>" exactly: the memoised decision itself
        assert got is identity and calls == [1]
    else:  # other accepted spellings take the full path (and decide again)
        assert calls == [1, 1]


CHEAP = {"canonical", "lower_case_scheme", "upper_case_scheme", "mixed_case_scheme",
         "list_of_one", "tuple_of_one"}


# Headers that pass the cheap split's shape test ("Bearer " + rest) or come near it, with
# the cached token inside, and the full path's exact answer.
NEAR_MISSES = [
    ("padding_after_token", "Bearer {t}=", AuthError, "token_malformed"),
    ("trailing_nul", "Bearer {t}\x00", AuthError, "authorization_malformed"),
    ("trailing_newline_inside", "Bearer {t}\nX: 1", AuthError, "authorization_malformed"),
    ("space_inside", "Bearer {t} x", AuthError, "authorization_malformed"),
    ("dpop_word_in_token", "Bearer DPoP {t}", AuthError, "authorization_malformed"),
    ("tab_before_token", "Bearer\t{t}", AuthError, "authorization_malformed"),
    ("non_ascii_suffix", "Bearer {t}\u00e9", AuthError, "authorization_malformed"),
    ("token_prefix", "Bearer {t6}", AuthError, "signature_invalid"),
    ("dpop_scheme_without_dpop", "DPoP {t}", AuthError, "scheme_unsupported"),
    ("bearerx", "Bearerx{t}", AuthError, "scheme_unsupported"),
]


@pytest.mark.parametrize(("name", "shape", "error", "code"), NEAR_MISSES,
                         ids=[r[0] for r in NEAR_MISSES])
def test_near_miss_headers_take_the_full_path(name: str, shape: str, error: type[Exception],
                                              code: str) -> None:
    guard, token, _, _, _ = _warm()
    header = shape.format(t=token, t6=token[:-6])
    kind, got = _code(lambda: guard.authenticate([header]))
    assert issubclass(kind, error) and got == code


@pytest.mark.parametrize("async_", [False, True])
def test_a_header_and_a_query_token_is_refused_even_when_cached(async_: bool) -> None:
    guard, token, _, _, _ = _warm()
    if async_:
        import asyncio
        call = lambda: asyncio.run(guard.aauthenticate([f"Bearer {token}"], query_token=True))  # noqa: E731
    else:
        call = lambda: guard.authenticate([f"Bearer {token}"], query_token=True)  # noqa: E731
    assert _code(call)[1] == "credentials_multiple"


def test_repeated_header_with_the_cached_token_is_refused() -> None:
    guard, token, _, _, _ = _warm()
    assert _code(lambda: guard.authenticate([f"Bearer {token}"] * 2))[1] == "authorization_repeated"


def test_a_token_decided_under_one_policy_is_judged_afresh_by_another() -> None:
    clock = Clock()
    verifier = _verifier(clock)
    token = mint(service_claims())
    lenient: Guard[Any] = Guard(verifier, ServicePolicy(), realm="techstore")
    strict: Guard[Any] = Guard(verifier, ServicePolicy(required_roles={"payment-service:charge"}),
                               realm="techstore")
    others: Guard[Any] = Guard(verifier, ServicePolicy(allowed_clients={"inventory-service"}),
                               realm="techstore")
    users: Guard[Any] = Guard(verifier, UserPolicy(allowed_clients=None), realm="techstore")
    obo: Guard[Any] = Guard(verifier, OnBehalfOfPolicy(allowed_clients={"shop-api"}),
                            realm="techstore")
    header = [f"Bearer {token}"]
    first = lenient.authenticate(header)
    assert first.client_id == "shop-api"
    for _ in range(2):  # twice: a refusal is never memoised, nor is it served from the other's
        assert _code(lambda: strict.authenticate(header)) == (ForbiddenError,
                                                              "insufficient_scope")
        assert _code(lambda: others.authenticate(header))[1] == "unauthorized_service"
        assert _code(lambda: users.authenticate(header))[1] == "not_user_token"
        assert _code(lambda: obo.authenticate(header))[1] == "not_user_token"
        assert lenient.authenticate(header) is first


def test_a_user_token_memoised_for_user_policy_is_refused_by_service_policy() -> None:
    verifier = _verifier(Clock())
    token = mint(user_claims())
    header = [f"Bearer {token}"]
    users: Guard[Any] = Guard(verifier, UserPolicy(allowed_clients={"storefront"}))
    services: Guard[Any] = Guard(verifier, ServicePolicy())
    identity = users.authenticate(header)
    assert users.authenticate(header) is identity and identity.username == "alice"
    assert _code(lambda: services.authenticate(header))[1] == "not_service_account"


def test_expiry_ends_the_memoised_decision_with_the_exact_code() -> None:
    guard, token, identity, clock, calls = _warm()
    clock.now = NOW + 299  # exp is NOW + 300: still valid, still the memoised decision
    assert guard.authenticate([f"Bearer {token}"]) is identity
    assert calls == [1]
    clock.now = NOW + 331  # past exp + leeway: the full path names the expiry
    assert _code(lambda: guard.authenticate([f"Bearer {token}"])) == (InvalidTokenError,
                                                                      "token_expired")
    assert calls == [1]


def test_expiry_at_exp_inside_the_leeway_is_verified_again_not_served_from_the_memo() -> None:
    guard, token, identity, clock, calls = _warm()
    cache = guard.verifier.cache
    clock.now = NOW + 300  # at exp: the entry is dead; the leeway still admits the token
    again = guard.authenticate([f"Bearer {token}"])
    assert again is not identity and again.client_id == "shop-api"
    assert calls == [1, 1]
    assert len(cache) == 0  # accepted inside the leeway: neither claims nor decision cached


def test_a_cleared_cache_forgets_the_decision() -> None:
    guard, token, identity, _, calls = _warm()
    guard.verifier.cache.clear()
    again = guard.authenticate([f"Bearer {token}"])
    assert again is not identity and calls == [1, 1]
    assert guard.authenticate([f"Bearer {token}"]) is again and calls == [1, 1]


def test_cached_hits_are_counted_once_per_request() -> None:
    guard, token, _, _, _ = _warm()
    cache = guard.verifier.cache
    hits, misses = cache.hits, cache.misses
    for _ in range(5):
        guard.authenticate([f"Bearer {token}"])
    assert (cache.hits, cache.misses) == (hits + 5, misses)


def test_a_second_policy_on_a_cached_token_counts_one_hit_not_two() -> None:
    guard, token, _, _, _ = _warm()
    cache = guard.verifier.cache
    other: Guard[Any] = Guard(guard.verifier, ServicePolicy())
    hits, misses = cache.hits, cache.misses
    other.authenticate([f"Bearer {token}"])  # decided afresh: one hit (the full path's)
    other.authenticate([f"Bearer {token}"])  # now memoised: one hit
    assert (cache.hits, cache.misses) == (hits + 2, misses)


def test_cached_path_still_writes_the_audit_decision() -> None:
    clock = Clock()
    decisions: list[AuthDecision] = []
    token = mint(service_claims())
    guard: Guard[Any] = Guard(_verifier(clock), ServicePolicy(), audit=decisions.append)
    for _ in range(3):
        guard.authenticate([f"Bearer {token}"], endpoint="POST /x")
    assert decisions == [AuthDecision(True, None, 200, "shop-api", "POST /x")] * 3


class Impure:
    """A policy that reads outside state (here a switch): never memoised."""

    def __init__(self) -> None:
        self.open = True
        self.calls = 0

    def authorize(self, claims: Any) -> str:
        self.calls += 1
        if not self.open:
            raise ForbiddenError("closed", code="unauthorized_service")
        return "in"


def test_an_impure_policy_runs_on_every_request() -> None:
    policy = Impure()
    guard: Guard[Any] = Guard(_verifier(Clock()), policy)
    token = mint(service_claims())
    assert [guard.authenticate([f"Bearer {token}"]) for _ in range(3)] == ["in"] * 3
    assert policy.calls == 3
    policy.open = False
    assert _code(lambda: guard.authenticate([f"Bearer {token}"]))[1] == "unauthorized_service"


@pytest.mark.parametrize("policy", [ServicePolicy(), UserPolicy(allowed_clients=None),
                                    OnBehalfOfPolicy(allowed_clients={"shop-api"})],
                         ids=["service", "user", "on_behalf_of"])
def test_pure_policies_are_sealed(policy: Any) -> None:
    with pytest.raises(ConfigurationError):
        policy.allowed_clients = frozenset({"anyone"})
    with pytest.raises(ConfigurationError):
        policy.required_roles = frozenset()


# --- DPoP: a cached bound token never skips its proof ---------------------------------

def _dpop_warm(mode: str = "allowed") -> tuple[Guard[Any], str, Any]:
    guard = dpop_guard(mode)
    token = access_token(caller_key().jkt)
    identity = guard.authenticate([f"DPoP {token}"], request=request([proof(token=token)]))
    assert guard.authenticate([f"DPoP {token}"], request=request([proof(token=token)])) \
        is identity
    return guard, token, identity


@pytest.mark.parametrize("mode", ["allowed", "required"])
@pytest.mark.parametrize(("name", "proofs", "code"), [
    ("no_proof", lambda t: [], "dpop_proof_missing"),
    ("two_proofs", lambda t: [proof(token=t), proof(token=t)], "dpop_proof_repeated"),
    ("other_key", lambda t: [proof(other_key(), token=t)], "dpop_jkt_mismatch"),
    ("other_method", lambda t: [proof(method="GET", token=t)], "dpop_htm_mismatch"),
    ("other_url", lambda t: [proof(url="https://x.example/y", token=t)], "dpop_htu_mismatch"),
    ("no_ath", lambda t: [proof()], "dpop_ath_mismatch"),
    ("replayed", None, "dpop_replayed"),
], ids=lambda v: v if isinstance(v, str) else "")
def test_a_cached_dpop_token_still_checks_its_proof(mode: str, name: str, proofs: Any,
                                                    code: str) -> None:
    decisions: list[AuthDecision] = []
    guard, token, _ = _dpop_warm(mode)
    guard.audit = decisions.append
    if proofs is None:
        used = proof(token=token)
        guard.authenticate([f"DPoP {token}"], request=request([used]))
        given = [used]
    else:
        given = proofs(token)
    assert _code(lambda: guard.authenticate([f"DPoP {token}"], request=request(given)))[1] == code
    assert decisions[-1].code == code and decisions[-1].client_id == "shop-api"


def test_bearer_with_a_cached_unbound_token_is_refused_where_dpop_is_required() -> None:
    verifier = dpop_verifier()
    token = access_token()
    lenient: Guard[Any] = Guard(verifier, ServicePolicy(required_roles={REQUIRED_ROLE}))
    lenient.authenticate([f"Bearer {token}"])
    required = dpop_guard("required")
    required.verifier = verifier
    assert _code(lambda: required.authenticate([f"Bearer {token}"],
                                               request=request([])))[1] == "dpop_required"


def test_a_bound_token_cached_for_dpop_is_no_hit_for_bearer_however_spelled() -> None:
    guard, token, _ = _dpop_warm("allowed")
    verifier = guard.verifier
    for header, code in ((f"Bearer {token}", "dpop_bound_token"),
                         (f"bearer {token}", "dpop_bound_token"),
                         (f"Bearer DPoP {token}", "authorization_malformed"),
                         (f"Bearer  DPoP {token}", "authorization_malformed")):
        assert _code(lambda h=header: guard.authenticate([h], request=request([])))[1] == code
    # the verifier itself: the DPoP entry is keyed apart from any string
    assert _code(lambda: verifier.verify(f"DPoP {token}"))[1] == "token_malformed"
    assert _code(lambda: verifier.verify(token))[1] == "dpop_bound_token"


def test_a_guard_given_another_verifier_forgets_the_old_decisions() -> None:
    guard, token, _, clock, _ = _warm()
    guard.verifier = Verifier(issuer=ISSUER, audience="payment-service",
                              key_set=StaticKeySet(keys().jwks(), issuer=ISSUER), clock=clock)
    assert _code(lambda: guard.authenticate([f"Bearer {token}"])) == (InvalidTokenError,
                                                                      "audience_mismatch")
