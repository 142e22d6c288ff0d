"""Where a running Keycloak realm answers, and the admin account to manage it."""

from __future__ import annotations

from dataclasses import dataclass, field

from svcauth._discovery import keycloak_issuer


@dataclass(frozen=True)
class KeycloakEndpoints:
    """The URLs of one realm on one running Keycloak (all on 127.0.0.1)."""

    base_url: str
    """Scheme, host and port, without a path: ``http://127.0.0.1:PORT`` (``KEYCLOAK_URL``)."""
    auth_path: str
    """``""`` or the legacy ``/auth`` (``KEYCLOAK_AUTH_PATH``)."""
    realm: str
    """The realm name, ``techstore``."""
    management_url: str
    """The management interface (health): ``http://127.0.0.1:MGMT_PORT[/auth]``."""
    admin_username: str
    """The bootstrap admin of the master realm."""
    admin_password: str = field(repr=False)
    """Its password (never in ``repr``)."""

    @property
    def server_url(self) -> str:
        """``base_url`` plus ``auth_path``: the prefix of every Keycloak path."""
        return self.base_url + self.auth_path

    @property
    def issuer(self) -> str:
        """The realm's issuer, ``<server_url>/realms/<realm>``."""
        return keycloak_issuer(self.base_url, self.realm, self.auth_path)

    @property
    def discovery_url(self) -> str:
        """The realm's OpenID Connect discovery document."""
        return f"{self.issuer}/.well-known/openid-configuration"

    @property
    def token_endpoint(self) -> str:
        """The realm's token endpoint."""
        return f"{self.issuer}/protocol/openid-connect/token"

    @property
    def jwks_uri(self) -> str:
        """The realm's JWKS (``certs``)."""
        return f"{self.issuer}/protocol/openid-connect/certs"

    @property
    def admin_token_endpoint(self) -> str:
        """The master realm's token endpoint (``admin-cli`` password grant)."""
        return f"{self.server_url}/realms/master/protocol/openid-connect/token"

    @property
    def admin_api(self) -> str:
        """The Admin REST API of the realm: ``<server_url>/admin/realms/<realm>``."""
        return f"{self.server_url}/admin/realms/{self.realm}"

    @property
    def health_url(self) -> str:
        """Readiness on the management interface."""
        return f"{self.management_url}/health/ready"
