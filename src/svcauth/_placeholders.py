"""``${NAME}`` placeholders in realm files, replaced the way Keycloak's import replaces them.

Keycloak runs every realm file it imports through ``StringPropertyReplacer``:

- ``${NAME}`` becomes the value of ``NAME`` (``${env.NAME}`` reads ``NAME`` too);
- ``${NAME:default}`` becomes ``default`` when ``NAME`` is not set;
- ``${A,B}`` tries ``A`` then ``B``; ``${/}`` and ``${:}`` are the file and path separators;
- a placeholder it cannot resolve **stays as written** (``${role_uma_authorization}``, the
  message-bundle keys of every Admin Console export, are such placeholders), and so does an
  empty ``${}``;
- a replacement that itself holds ``${`` is replaced again.

The dev IdP and the realm-as-code tools share this function, so they read a file as Keycloak
does. ``missing`` collects the placeholders left as written (with where they sit) so that a
caller can warn about them; a value never appears in what is collected.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_.]*)(?::([^}]*))?\}")
"""``${NAME}`` or ``${NAME:default}`` (what the linter asks secrets to be written as)."""

Missing = list[tuple[str, str]]
"""``(where, placeholder)`` pairs: a JSON path such as ``clients[4].secret`` and ``${NAME}``."""


def _lookup(key: str, env: Mapping[str, str]) -> str | None:
    if key == "/":
        return os.sep
    if key == ":":
        return os.pathsep
    for name in (key, key[4:] if key.startswith("env.") else None):
        if name and name in env:
            return env[name]
    return None


def _resolve_key(key: str, env: Mapping[str, str]) -> str | None:
    value = _lookup(key, env)
    if value is not None:
        return value
    colon = key.find(":")
    real = key[:colon] if colon > 0 else key
    if colon > 0 and (value := _lookup(real, env)) is not None:
        return value
    comma = real.find(",")
    if comma > -1:
        for part in (real[:comma], real[comma + 1:]):
            if part and (value := _lookup(part, env)) is not None:
                return value
    return key[colon + 1:] if colon > 0 else None


def replace_string(text: str, env: Mapping[str, str], missing: list[str] | None = None,
                   _depth: int = 0) -> str:
    """``text`` with its placeholders replaced (Keycloak's ``StringPropertyReplacer``)."""
    out: list[str] = []
    i, n, replaced = 0, len(text), False
    while i < n:
        start = text.find("${", i)
        if start < 0:
            out.append(text[i:])
            break
        out.append(text[i:start])
        depth, j = 1, start + 2
        while j < n and depth:
            depth += {"{": 1, "}": -1}.get(text[j], 0)
            j += 1
        if depth:  # never closed: the rest is literal
            out.append(text[start:])
            break
        key = text[start + 2:j - 1]
        value = _resolve_key(key, env) if key else None
        if value is None:
            out.append(text[start:j])
            if key and missing is not None:
                missing.append(f"${{{key}}}")
        else:
            out.append(value)
            replaced = True
        i = j
    result = "".join(out)
    if replaced and "${" in result and _depth < 10:
        return replace_string(result, env, missing, _depth + 1)
    return result


def resolve_placeholders(value: Any, env: Mapping[str, str], *, where: str = "",
                         missing: Missing | None = None) -> Any:
    """``value`` (any JSON value) with every placeholder in its strings replaced from ``env``.

    Unresolvable placeholders stay as written, as on Keycloak; with ``missing`` given, each
    is appended as ``(where, "${NAME}")``.
    """
    if isinstance(value, str):
        found: list[str] = []
        result = replace_string(value, env, found)
        if missing is not None:
            missing.extend((where or "(top)", name) for name in found)
        return result
    if isinstance(value, list):
        return [resolve_placeholders(v, env, where=f"{where}[{i}]", missing=missing)
                for i, v in enumerate(value)]
    if isinstance(value, dict):
        return {k: resolve_placeholders(v, env, where=f"{where}.{k}" if where else k,
                                        missing=missing)
                for k, v in value.items()}
    return value
