"""Guard: header → verifier → policy, in that order, with audit decisions and no 500s.

The verifier and policy here are recording fakes so that the order of the steps and the
handling of an unforeseen exception can be observed; the real verifier is exercised by the
framework tests and tests/security.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import pytest

from svcauth import (
    ForbiddenError,
    InvalidRequestError,
    InvalidTokenError,
    KeySetUnavailableError,
    MissingTokenError,
)
from svcauth.receiver._guard import AuthDecision, Guard


@dataclass
class Identity:
    client_id: str


@dataclass
class FakeVerifier:
    outcome: Any = None
    calls: list[str] = field(default_factory=list)

    def verify(self, token: str) -> Any:
        self.calls.append(f"verify:{token}")
        if isinstance(self.outcome, BaseException):
            raise self.outcome
        return {"azp": "shop-api"}

    async def averify(self, token: str) -> Any:
        self.calls.append(f"averify:{token}")
        if isinstance(self.outcome, BaseException):
            raise self.outcome
        return {"azp": "shop-api"}


@dataclass
class FakePolicy:
    calls: list[Any] = field(default_factory=list)
    refuse: Exception | None = None

    def authorize(self, claims: Any) -> Identity:
        self.calls.append(claims)
        if self.refuse is not None:
            raise self.refuse
        return Identity(claims["azp"])


def make(outcome: Any = None, refuse: Exception | None = None) -> tuple[Guard[Identity], FakeVerifier, FakePolicy, list[AuthDecision]]:
    verifier, policy, seen = FakeVerifier(outcome), FakePolicy(refuse=refuse), []
    return Guard(verifier, policy, realm="techstore", audit=seen.append), verifier, policy, seen


def test_valid_header_goes_through_verifier_then_policy() -> None:
    guard, verifier, policy, seen = make()
    assert guard.authenticate("Bearer abc.def.ghi") == Identity("shop-api")
    assert verifier.calls == ["verify:abc.def.ghi"]
    assert policy.calls == [{"azp": "shop-api"}]
    assert seen == [AuthDecision(True, None, 200, "shop-api")]


@pytest.mark.anyio
async def test_async_path_uses_averify_only() -> None:
    guard, verifier, _policy, seen = make()
    assert await guard.aauthenticate(["bearer abc.def.ghi"]) == Identity("shop-api")
    assert verifier.calls == ["averify:abc.def.ghi"]
    assert seen == [AuthDecision(True, None, 200, "shop-api")]


@pytest.mark.parametrize(("header", "error", "code", "status"), [
    (None, MissingTokenError, "token_missing", 401),
    ("Basic eDp5", MissingTokenError, "scheme_unsupported", 401),
    (["Bearer a", "Bearer b"], InvalidRequestError, "authorization_repeated", 400),
    ("Bearer a b", InvalidRequestError, "authorization_malformed", 400),
])
def test_header_refusals_never_reach_the_verifier(header: Any, error: type[Exception], code: str, status: int) -> None:
    guard, verifier, policy, seen = make()
    with pytest.raises(error) as info:
        guard.authenticate(header)
    assert info.value.code == code  # type: ignore[attr-defined]
    assert verifier.calls == [] and policy.calls == []
    assert seen == [AuthDecision(False, code, status, None)]


def test_policy_is_not_consulted_when_verification_fails() -> None:
    guard, _verifier, policy, seen = make(InvalidTokenError("x", code="signature_invalid"))
    with pytest.raises(InvalidTokenError) as info:
        guard.authenticate("Bearer a.b.c")
    assert info.value.code == "signature_invalid"
    assert policy.calls == []
    assert seen == [AuthDecision(False, "signature_invalid", 401, None)]


def test_policy_refusal_is_raised_and_audited() -> None:
    guard, _, _, seen = make(refuse=ForbiddenError("x", code="unauthorized_service"))
    with pytest.raises(ForbiddenError) as info:
        guard.authenticate("Bearer a.b.c")
    assert info.value.code == "unauthorized_service"
    assert seen == [AuthDecision(False, "unauthorized_service", 403, None)]


def test_key_set_outage_is_raised_and_audited_as_503() -> None:
    guard, _, _, seen = make(KeySetUnavailableError("down"))
    with pytest.raises(KeySetUnavailableError):
        guard.authenticate("Bearer a.b.c")
    assert seen == [AuthDecision(False, "jwks_unavailable", 503, None)]


@pytest.mark.anyio
async def test_unforeseen_exception_fails_closed_as_invalid_token_without_its_message(
    caplog: pytest.LogCaptureFixture,
) -> None:
    guard, _, _, seen = make(ValueError("payload eyJsecret.part.sig leaked"))
    with caplog.at_level(logging.ERROR, logger="svcauth.receiver"), pytest.raises(InvalidTokenError) as info:
        await guard.aauthenticate("Bearer a.b.c")
    assert info.value.code == "token_unprocessable"
    assert info.value.__cause__ is None and info.value.__suppress_context__
    assert seen == [AuthDecision(False, "token_unprocessable", 401, None)]
    assert "ValueError" in caplog.text
    assert "eyJsecret" not in caplog.text


def test_failing_audit_callback_does_not_change_the_outcome(caplog: pytest.LogCaptureFixture) -> None:
    def audit(decision: AuthDecision) -> None:
        raise RuntimeError("audit sink down")

    guard = Guard(FakeVerifier(), FakePolicy(), audit=audit)
    with caplog.at_level(logging.WARNING, logger="svcauth.receiver"):
        assert guard.authenticate("Bearer a.b.c") == Identity("shop-api")
    assert "RuntimeError" in caplog.text


def test_query_token_next_to_header_is_refused_before_verification() -> None:
    guard, verifier, _, _ = make()
    with pytest.raises(InvalidRequestError) as info:
        guard.authenticate("Bearer a.b.c", query_token=True)
    assert info.value.code == "credentials_multiple"
    assert verifier.calls == []
