"""A small Keycloak Admin REST client on httpx: JSON in, JSON out, one job.

It logs in to the master realm with ``admin-cli`` (password grant), sends the admin token on
every call and logs in again once when Keycloak answers 401 (admin tokens live 60 s by
default). Errors are ``SvcAuthError`` with code ``admin_api_error`` naming the method, the
path and the status, plus Keycloak's ``errorMessage`` (never a request body: it may hold a
client secret).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from .._errors import ConfigurationError, SvcAuthError

ADMIN_API_ERROR = "admin_api_error"
"""Error code of every failed Admin REST call."""

_ENV_PAIRS = (("KC_BOOTSTRAP_ADMIN_USERNAME", "KC_BOOTSTRAP_ADMIN_PASSWORD"),
              ("KEYCLOAK_ADMIN_USERNAME", "KEYCLOAK_ADMIN_PASSWORD"))


@dataclass(frozen=True)
class AdminCredentials:
    """A master-realm admin account."""

    username: str
    """The admin's username."""
    password: str = field(repr=False)
    """Its password (never in ``repr``)."""

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> AdminCredentials:
        """``KC_BOOTSTRAP_ADMIN_USERNAME``/``_PASSWORD``, else
        ``KEYCLOAK_ADMIN_USERNAME``/``_PASSWORD``."""
        for user_var, password_var in _ENV_PAIRS:
            if env.get(user_var) and env.get(password_var):
                return cls(env[user_var], env[password_var])
        raise ConfigurationError(
            "admin credentials: expected KC_BOOTSTRAP_ADMIN_USERNAME and "
            "KC_BOOTSTRAP_ADMIN_PASSWORD (or KEYCLOAK_ADMIN_USERNAME and KEYCLOAK_ADMIN_PASSWORD) "
            "in the environment, found neither pair", code="config_missing")


def _error_detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    if isinstance(body, dict):
        text = body.get("errorMessage") or body.get("error_description") or body.get("error")
        if isinstance(text, str):
            return f": {text[:200]}"
    return ""


class AdminClient:
    """Calls ``<server_url>/admin/realms/...`` as a master-realm admin::

        admin = AdminClient("http://127.0.0.1:8080", AdminCredentials("admin", "..."))
        realm = admin.get("/techstore")          # None when 404

    ``server_url`` includes the legacy ``/auth`` path when Keycloak has one. ``http`` lets a
    test inject a client (``httpx.MockTransport``); otherwise one is created and owned.
    """

    def __init__(self, server_url: str, credentials: AdminCredentials, *,
                 http: httpx.Client | None = None, timeout: float = 15.0) -> None:
        self.server_url = server_url.rstrip("/")
        """Keycloak's base URL plus its path prefix."""
        self._credentials = credentials
        self._own = http is None
        self._http = http or httpx.Client(timeout=timeout, follow_redirects=False)
        self._token: str | None = None

    def __repr__(self) -> str:
        return f"AdminClient({self.server_url!r}, user={self._credentials.username!r})"

    def close(self) -> None:
        """Close the HTTP client when this object created it."""
        if self._own:
            self._http.close()

    def __enter__(self) -> AdminClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _login(self) -> str:
        url = f"{self.server_url}/realms/master/protocol/openid-connect/token"
        try:
            response = self._http.post(url, data={
                "grant_type": "password", "client_id": "admin-cli",
                "username": self._credentials.username, "password": self._credentials.password})
        except httpx.HTTPError as exc:
            raise SvcAuthError(f"admin login at {url}: unreachable ({type(exc).__name__})",
                               code=ADMIN_API_ERROR) from exc
        if response.status_code != 200:
            raise SvcAuthError(f"admin login at {url}: expected HTTP 200, found "
                               f"{response.status_code}{_error_detail(response)}",
                               code=ADMIN_API_ERROR)
        token: str = response.json()["access_token"]
        return token

    def request(self, method: str, path: str, json: Any = None,
                *, allow_404: bool = False) -> httpx.Response | None:
        """One call on ``/admin/realms`` + ``path``; None for a 404 when ``allow_404``."""
        url = f"{self.server_url}/admin/realms{path}"
        for attempt in (1, 2):
            if self._token is None:
                self._token = self._login()
            try:
                response = self._http.request(method, url, json=json,
                                              headers={"Authorization": f"Bearer {self._token}"})
            except httpx.HTTPError as exc:
                raise SvcAuthError(f"admin {method} {path}: unreachable ({type(exc).__name__})",
                                   code=ADMIN_API_ERROR) from exc
            if response.status_code == 401 and attempt == 1:
                self._token = None
                continue
            break
        if response.status_code == 404 and allow_404:
            return None
        if response.status_code >= 300:
            raise SvcAuthError(f"admin {method} {path}: expected success, found HTTP "
                               f"{response.status_code}{_error_detail(response)}",
                               code=ADMIN_API_ERROR)
        return response

    def get(self, path: str) -> Any:
        """GET and decode JSON; None when Keycloak answers 404."""
        response = self.request("GET", path, allow_404=True)
        return None if response is None else response.json()

    def post(self, path: str, body: Any) -> str | None:
        """POST JSON; the id at the end of ``Location`` when Keycloak sends one."""
        response = self.request("POST", path, body)
        assert response is not None
        location = response.headers.get("Location")
        return location.rstrip("/").rsplit("/", 1)[-1] if location else None

    def put(self, path: str, body: Any = None) -> None:
        """PUT JSON (or nothing)."""
        self.request("PUT", path, body)

    def delete(self, path: str, body: Any = None) -> None:
        """DELETE, with a JSON body when Keycloak wants one (role mappings)."""
        self.request("DELETE", path, body)
