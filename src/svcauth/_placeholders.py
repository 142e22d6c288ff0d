"""``${NAME}`` / ``${NAME:default}`` placeholders in realm files, resolved the way Keycloak's
import resolves them. The dev IdP and the realm-as-code tools both read realm files."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ._errors import ConfigurationError

PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_.]*)(?::([^}]*))?\}")
"""``${NAME}`` or ``${NAME:default}``."""


def resolve_placeholders(value: Any, env: Mapping[str, str], *, where: str = "") -> Any:
    """``value`` (any JSON value) with every ``${NAME}`` in its strings replaced from ``env``.

    Raises ``ConfigurationError`` (code ``config_missing``) naming the first missing variable
    and where it was used; never a value.
    """
    if isinstance(value, str):
        def sub(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            if name in env:
                return env[name]
            if default is not None:
                return default
            raise ConfigurationError(
                f"realm placeholder ${{{name}}} at {where or '(top)'}: expected environment "
                f"variable {name} to be set, found it missing", code="config_missing")
        return PLACEHOLDER.sub(sub, value)
    if isinstance(value, list):
        return [resolve_placeholders(v, env, where=f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, dict):
        return {k: resolve_placeholders(v, env, where=f"{where}.{k}" if where else k)
                for k, v in value.items()}
    return value
