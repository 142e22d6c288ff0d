"""The pure core of svcauth.amqp: when a connection looks for a new token, and how a refusal
reads. Injected times only; no broker, no clock."""

from __future__ import annotations

import pytest

from svcauth import ConfigurationError, ForbiddenError, InvalidTokenError
from svcauth.amqp import (
    BrokerAudience,
    Renewal,
    RenewalPolicy,
    broker_scopes,
    login_refusal,
    operation_refusal,
)
from svcauth.caller import RefreshPolicy, Token

AUD = BrokerAudience()


def _token(name: str, issued: float, life: float) -> Token:
    return Token(access_token=name, token_type="Bearer", expires_in=life,
                 expires_at=issued + life, scope=None, issued_at=issued)


def test_no_look_before_the_refresh_window_opens() -> None:
    r = Renewal(RefreshPolicy())
    r.opened("a", _token("a", 1000.0, 300.0))
    assert r.delay(1000.0) == pytest.approx(240.0)
    assert r.delay(1100.0) == pytest.approx(140.0)


def test_inside_the_window_looks_every_quarter_of_the_caches_lead_within_bounds() -> None:
    r = Renewal(RefreshPolicy())
    r.opened("a", _token("a", 0.0, 300.0))
    assert r.delay(240.0) == pytest.approx(1.5)  # lead 6 s
    r.opened("b", _token("b", 0.0, 10.0))
    assert r.delay(8.0) == pytest.approx(0.125)  # lead 0.5 s
    r.opened("c", _token("c", 0.0, 3600.0))
    assert r.delay(2900.0) == pytest.approx(5.0)  # max_step
    r.opened("d", _token("d", 0.0, 1.0))
    assert r.delay(0.9) == pytest.approx(0.02)  # min_step


def test_the_step_finds_the_new_token_before_the_cache_stops_serving_the_old() -> None:
    policy = RefreshPolicy()
    for life in (2.0, 10.0, 60.0, 300.0, 3600.0, 86400.0):
        token = _token("a", 0.0, life)
        r = Renewal(policy)
        r.opened("a", token)
        window_end = policy.refresh_at(token, 1.0)
        # The look after the refresh starts at the window's end comes before fresh_until.
        assert window_end + 2 * r.step() <= policy.fresh_until(token) - 0.5 * (
            policy.fresh_until(token) - window_end), life


def test_same_token_sends_nothing_a_new_one_is_sent_once() -> None:
    r = Renewal(RefreshPolicy())
    r.opened("a", _token("a", 0.0, 10.0))
    assert r.look("a") is None
    assert r.look("b") == "b"
    r.renewed("b", _token("b", 8.0, 10.0))
    assert r.look("b") is None
    assert (r.renewals, r.held) == (1, "b")


def test_a_failed_look_retries_after_retry_step() -> None:
    r = Renewal(RefreshPolicy(), RenewalPolicy(retry_step=2.5))
    r.opened("a", _token("a", 0.0, 10.0))
    r.failed()
    assert (r.delay(0.0), r.failures) == (2.5, 1)
    assert r.look("a") is None
    assert r.delay(0.0) == pytest.approx(8.0)
    assert not r.expired(9.99) and r.expired(10.0)


@pytest.mark.parametrize(("field", "value"), [("min_step", 0.0), ("max_step", float("nan")),
                                               ("retry_step", -1.0), ("min_step", 9.0)])
def test_renewal_policy_refuses_steps_it_cannot_work_with(field, value) -> None:
    with pytest.raises(ConfigurationError) as caught:
        RenewalPolicy(**{field: value})
    assert caught.value.code == "config_invalid"
    assert field in caught.value.message


def test_broker_scopes_read_scope_and_the_additional_claim_with_the_prefix_only() -> None:
    claims = {"scope": "email rabbitmq.read:*/a profile",
              "rabbitmq_scopes": ["rabbitmq.write:*/b", "other.read:*/*", 7]}
    assert broker_scopes(claims, AUD) == ["rabbitmq.write:*/b", "rabbitmq.read:*/a"]
    assert broker_scopes(claims, BrokerAudience(scopes_claim=None)) == ["rabbitmq.read:*/a"]


LOGIN = [
    ("expired first", {"exp": 90, "aud": []}, InvalidTokenError, "token_expired"),
    ("audience", {"exp": 200, "aud": "account"}, InvalidTokenError, "audience_mismatch"),
    ("audience as list", {"exp": 200, "aud": ["a", "b"]}, InvalidTokenError,
     "audience_mismatch"),
    ("no scope", {"exp": 200, "aud": "rabbitmq", "scope": "email"}, ForbiddenError,
     "insufficient_scope"),
    ("all there: key or issuer", {"exp": 200, "aud": ["rabbitmq"],
                                  "rabbitmq_scopes": ["rabbitmq.read:*/q"]},
     InvalidTokenError, "invalid_token"),
]


@pytest.mark.parametrize(("claims", "error", "code"), [r[1:] for r in LOGIN],
                         ids=[r[0] for r in LOGIN])
def test_login_refusal_rows(claims, error, code) -> None:
    err = login_refusal({"client_id": "svc", **claims}, AUD, now=100.0)
    assert type(err) is error
    assert err.code == code
    assert "client 'svc'" in err.message


def test_vhost_refusal_with_scopes_is_insufficient_scope() -> None:
    err = login_refusal({"aud": "rabbitmq", "rabbitmq_scopes": ["rabbitmq.read:other/*"]},
                        AUD, now=0.0, reply_code=530)
    assert (type(err), err.code) == (ForbiddenError, "insufficient_scope")


OPERATION = [
    ("publish", "ACCESS_REFUSED - access to exchange 'orders' in vhost '/' refused for user "
     "'w'", "rabbitmq.write:*/orders"),
    ("consume", "ACCESS_REFUSED - access to queue 'q1' in vhost 'v' refused for user 'w'",
     "rabbitmq.read:*/q1"),
    ("declare", "ACCESS_REFUSED - access to queue 'q2' in vhost '/' refused for user 'w'",
     "rabbitmq.configure:*/q2"),
]


@pytest.mark.parametrize(("operation", "text", "required"), OPERATION)
def test_operation_refusal_names_the_scope(operation, text, required) -> None:
    err = operation_refusal(403, text, {"client_id": "w", "exp": 200}, AUD, operation, 100.0)
    assert isinstance(err, ForbiddenError)
    assert (err.code, err.required) == ("insufficient_scope", (required,))
    assert required in err.message


def test_operation_refusal_after_expiry_is_token_expired_and_other_closes_are_none() -> None:
    expired = operation_refusal(403, "ACCESS_REFUSED - Provided JWT token has expired at "
                                "timestamp 1", {"exp": 1}, AUD, "publish", 100.0)
    assert isinstance(expired, InvalidTokenError) and expired.code == "token_expired"
    assert operation_refusal(404, "NOT_FOUND - no queue 'x'", {}, AUD, "consume", 0.0) is None
    assert operation_refusal(406, "PRECONDITION_FAILED", {}, AUD, "publish", 0.0) is None


def test_public_names_are_exactly_these_sorted_and_documented() -> None:
    import svcauth.amqp as amqp
    import svcauth.amqp.aio_pika as aio_shell
    import svcauth.amqp.pika as pika_shell

    assert amqp.__all__ == sorted(amqp.__all__) == [
        "BrokerAudience", "BrokerSettings", "Renewal", "RenewalPolicy", "TokenBinding",
        "broker_scopes", "login_refusal", "operation_refusal"]
    assert (pika_shell.__all__, aio_shell.__all__) == (["TokenConnection"],
                                                       ["AsyncTokenConnection"])
    for module in (amqp, pika_shell, aio_shell):
        for name in module.__all__:
            assert (getattr(module, name).__doc__ or "").strip(), name
