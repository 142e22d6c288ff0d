"""The embedded provider's model of Keycloak's client-role mapper (the broker scopes claim)."""

from __future__ import annotations

import pytest

from svcauth import ConfigurationError
from svcauth.devidp._role_mapper import role_claim_values, role_claims


def _mapper(**config: str) -> dict:
    return {"name": "m", "protocolMapper": "oidc-usermodel-client-role-mapper",
            "config": {"usermodel.clientRoleMapping.clientId": "rabbitmq",
                       "claim.name": "rabbitmq_scopes", **config}}


def test_mapped_roles_become_a_top_level_list_with_the_prefix() -> None:
    mappers = role_claims({"clientId": "c", "protocolMappers": [
        _mapper(), _mapper(**{"claim.name": "tags",
                              "usermodel.clientRoleMapping.rolePrefix": "t-"})]})
    roles = {"rabbitmq": ["rabbitmq.read:*/q"], "other": ["x"]}
    assert role_claim_values(mappers, roles) == {"rabbitmq_scopes": ["rabbitmq.read:*/q"],
                                                 "tags": ["t-rabbitmq.read:*/q"]}


def test_no_role_of_the_client_no_claim_and_access_token_off_is_ignored() -> None:
    mappers = role_claims({"clientId": "c", "protocolMappers": [
        _mapper(), _mapper(**{"access.token.claim": "false", "claim.name": "off"}),
        {"protocolMapper": "oidc-audience-mapper", "config": {}}]})
    assert mappers == (("rabbitmq_scopes", "rabbitmq", ""),)
    assert role_claim_values(mappers, {"notification-service": ["notifications:send"]}) == {}


@pytest.mark.parametrize("config", [{"claim.name": "a.b"}, {"claim.name": ""},
                                    {"usermodel.clientRoleMapping.clientId": ""}])
def test_claims_it_cannot_model_are_refused_at_load(config) -> None:
    with pytest.raises(ConfigurationError) as caught:
        role_claims({"clientId": "c", "protocolMappers": [_mapper(**config)]})
    assert caught.value.code == "config_invalid"
    assert "client 'c'" in caught.value.message
