"""One realm model for every part of svcauth that reads a Keycloak realm-import file.

The dev IdP (:mod:`svcauth.devidp`) issues tokens from it; ``svcauth keycloak lint`` judges
it and ``svcauth keycloak apply`` sends it. Parsing follows Keycloak's own import: Jackson's
coercion of booleans and numbers, the string maps of attributes and mapper config, the
built-in client scopes (only when the file lists none), the per-client scope rules, groups,
composites and the service-account users Keycloak creates.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .._errors import ConfigurationError
from ._builtin import ACCOUNT_CLIENT, BUILTIN_SCOPES, SERVICE_ACCOUNT_SCOPE
from ._model import OIDC, Client, ClientScope, Group, ProtocolMapper, Realm, RoleRef, User
from ._parse import realm_from_dict
from ._scopes import ScopeSet, invalid_scopes, profile_complete, reached_scopes, token_roles


def read_realm_json(path: str | Path) -> dict[str, Any]:
    """The JSON object of a realm file (``ConfigurationError`` naming what is wrong)."""
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigurationError(f"cannot read realm file {p}: {exc.strerror}",
                                 code="config_missing") from exc
    except ValueError as exc:
        raise ConfigurationError(f"realm file {p}: expected JSON, found a syntax error "
                                 f"at line {getattr(exc, 'lineno', '?')}",
                                 code="config_invalid") from exc
    if not isinstance(data, dict):
        raise ConfigurationError(f"realm file {p}: expected a JSON object", code="config_invalid")
    return data


_SECRET_PATH = re.compile(r"(\.secret$|\.credentials\[\d+\]\.value$)")


def require_secrets(realm: Realm) -> Realm:
    """``realm``, or ``ConfigurationError`` (``config_missing``) naming the first client
    secret or password whose placeholder had no value. Keycloak would store the text
    ``${NAME}`` as the secret; ``apply`` and the test kit refuse that instead."""
    for where, name in realm.unresolved:
        if _SECRET_PATH.search(where):
            raise ConfigurationError(
                f"realm placeholder {name} at {where}: expected environment variable "
                f"{name[2:-1]} to be set, found it missing", code="config_missing")
    return realm


def load_realm(path: str | Path, env: Mapping[str, str] | None = None) -> Realm:
    """Load a realm file; ``${NAME}`` placeholders come from ``env`` (default: none set).

    ``env`` defaults to an empty mapping (not ``os.environ``): pass
    ``load_env_file("deploy/dev.env")`` or ``os.environ`` explicitly.
    """
    return realm_from_dict(read_realm_json(path), env or {})


__all__ = ["ACCOUNT_CLIENT", "BUILTIN_SCOPES", "OIDC", "SERVICE_ACCOUNT_SCOPE", "Client",
           "ClientScope", "Group", "ProtocolMapper", "Realm", "RoleRef", "ScopeSet", "User",
           "invalid_scopes", "load_realm", "profile_complete", "reached_scopes", "read_realm_json",
           "realm_from_dict", "require_secrets", "token_roles"]
