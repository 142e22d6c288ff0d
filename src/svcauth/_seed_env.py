"""``KEYCLOAK_AUTH_PATH`` read here versus read by the seed article's code.

The seed's Node.js code reads ``process.env.KEYCLOAK_AUTH_PATH || '/auth'``: unset **and
empty** both become ``/auth`` (the layout of Keycloak < 17). svcauth keeps Keycloak 17+'s
layout as the default: unset or empty means no prefix, ``/auth`` the legacy one, ``auto``
asks the server. An explicit ``/`` also means no prefix, and says so unambiguously.

Because the same environment reads two ways, :func:`auth_path_from_env` returns a warning
naming both readings whenever they differ (unset or empty); ``/``, ``/auth`` and ``auto``
read the same everywhere and bring no warning.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

VARIABLE = "KEYCLOAK_AUTH_PATH"
"""The seed's variable name."""
_warned: set[str] = set()
log = logging.getLogger("svcauth.config")


def auth_path_from_env(env: Mapping[str, str]) -> tuple[str, str | None]:
    """``(auth_path, warning)``: the value svcauth uses and, when the seed's code would use
    another one for the same environment, a one-line warning naming both readings."""
    raw = env.get(VARIABLE)
    value = (raw or "").strip()
    if value:
        return value, None
    state = "is not set" if raw is None else "is empty"
    return "", (f"{VARIABLE} {state}: svcauth uses no prefix (Keycloak 17+, "
                f"<url>/realms/<realm>), while the seed's code ({VARIABLE} || '/auth') would use "
                f"the legacy /auth prefix; set {VARIABLE}=/ for no prefix, /auth for the legacy "
                f"layout, or auto to ask the server")


def warn_once(message: str | None) -> None:
    """Log ``message`` as a warning, once per process."""
    if message and message not in _warned:
        _warned.add(message)
        log.warning("%s", message)
