"""The receiver package exports exactly its public names, sorted, each documented."""

from __future__ import annotations

import svcauth.receiver as receiver

EXPECTED = {
    "Claims", "Guard", "IntrospectionVerifier", "KeySet", "RemoteKeySet", "ServiceIdentity",
    "ServicePolicy", "StaticKeySet", "UserIdentity", "UserPolicy", "VerifiedTokenCache",
    "Verifier", "keycloak_service_account", "parse_authorization", "rfc9068_service_account",
}


def test_all_is_sorted_and_holds_the_receiver_core() -> None:
    assert receiver.__all__ == sorted(receiver.__all__)
    assert set(receiver.__all__) >= EXPECTED
    public = {n for n in dir(receiver) if not n.startswith("_")}
    assert set(receiver.__all__) <= public


def test_every_public_name_has_a_docstring() -> None:
    for name in receiver.__all__:
        assert (getattr(receiver, name).__doc__ or "").strip(), name
