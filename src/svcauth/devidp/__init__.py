"""The embedded Keycloak-compatible development identity provider.

Reads a Keycloak realm-import file and serves Keycloak's discovery, token, certs and
introspection endpoints on a loopback address, in-process (``DevIdP``) or from the
command line (``svcauth devidp``). For development and tests only; see docs/devidp.md
for every known difference from Keycloak 26.
"""

from __future__ import annotations

from .._envfile import load_env_file, parse_env
from ._idp import DevIdP
from ._realm import Client, Realm, User, load_realm

__all__ = ["Client", "DevIdP", "Realm", "User", "load_env_file", "load_realm", "parse_env"]
