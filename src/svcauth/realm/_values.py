"""How Keycloak reads the scalar values of a realm representation.

Two readers, because Keycloak has two:

- **Representation fields** (``enabled``, ``publicClient``, ``serviceAccountsEnabled`` ...) are
  Java ``Boolean``/``Integer`` fields filled by Jackson with its default coercions: JSON
  ``true``/``false``; the strings ``"true"``/``"True"``/``"TRUE"`` and ``"false"``/...; a JSON
  integer (0 is false); ``null`` or absent keeps the field's default. Anything else makes
  Jackson refuse the whole file, and so does :func:`rep_bool`.
- **Attributes and mapper config** are ``Map<String, String>``: Jackson turns a JSON ``true``
  into the string ``"true"`` (:func:`as_config_string`), and Keycloak later reads each with
  ``Boolean.parseBoolean`` (any case of ``true``) or with ``"true".equals`` (exactly
  ``true``), depending on the key (:func:`attr_true`, :func:`config_true`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .._errors import ConfigurationError

_TRUE = ("true", "True", "TRUE")
_FALSE = ("false", "False", "FALSE")


def rep_bool(rep: Mapping[str, Any], name: str, default: bool, *, where: str) -> bool:
    """A ``Boolean`` field of a representation, as Jackson coerces it."""
    value = rep.get(name)
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value != 0
    if isinstance(value, str):
        if value in _TRUE:
            return True
        if value in _FALSE:
            return False
        if value == "":
            return default
    raise ConfigurationError(
        f"realm file {where}.{name}: expected true or false, found {json.dumps(value)[:40]} "
        f"(Keycloak's import refuses the file)", code="config_invalid")


def rep_int(rep: Mapping[str, Any], name: str, default: int, *, where: str) -> int:
    """An ``Integer`` field (a JSON number or a numeric string); absent or null: ``default``."""
    value = rep.get(name)
    if value is None:
        return default
    if isinstance(value, bool):
        raise ConfigurationError(f"realm file {where}.{name}: expected a number, found "
                                 f"{json.dumps(value)}", code="config_invalid")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    raise ConfigurationError(f"realm file {where}.{name}: expected a number, found "
                             f"{json.dumps(value)[:40]}", code="config_invalid")


def rep_str(rep: Mapping[str, Any], name: str, default: str | None = None) -> str | None:
    """A ``String`` field: JSON scalars as Jackson coerces them, null/absent ``default``."""
    value = rep.get(name)
    if value is None:
        return default
    return as_config_string(value)


def as_config_string(value: Any) -> str:
    """A JSON scalar as the string Jackson stores in a ``Map<String, String>``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return json.dumps(value)
    return json.dumps(value, separators=(",", ":"))


def string_map(value: Any) -> dict[str, str]:
    """``attributes`` / ``config``: every value as a string (null entries dropped).

    A list value (the Admin API's multi-valued form, ``{"k": ["v"]}``) keeps its first entry.
    """
    if not isinstance(value, Mapping):
        return {}
    out: dict[str, str] = {}
    for key, item in value.items():
        if isinstance(item, list):
            item = item[0] if item else None
        if item is not None:
            out[str(key)] = as_config_string(item)
    return out


def string_list(value: Any) -> tuple[str, ...]:
    """A JSON array of strings (a lone string counts as one); anything else: empty."""
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list):
        return tuple(as_config_string(v) for v in value if v is not None)
    return ()


def attr_true(attrs: Mapping[str, str], key: str, default: bool = False) -> bool:
    """``Boolean.parseBoolean(attrs.get(key))``; absent: ``default``."""
    value = attrs.get(key)
    return default if value is None else value.lower() == "true"


def config_true(config: Mapping[str, str], key: str, default: bool = False) -> bool:
    """``"true".equals(config.get(key))``; absent: ``default`` (mapper switches)."""
    value = config.get(key)
    return default if value is None else value == "true"
