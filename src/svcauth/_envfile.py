"""Reading ``KEY=VALUE`` files such as ``deploy/dev.env`` (the dev IdP, the Keycloak runner,
MockMart and the tests all read them through here)."""

from __future__ import annotations

import re
from pathlib import Path

from ._errors import ConfigurationError

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def parse_env(text: str, *, source: str = "<string>") -> dict[str, str]:
    """Parse dotenv text into a dict.

    Accepted: blank lines, ``# comment`` lines, an optional ``export `` prefix,
    ``KEY=VALUE`` with VALUE bare (an inline `` #`` starts a comment), or in single or
    double quotes (taken literally, no escapes). Raises ``ConfigurationError`` naming the
    line for anything else; the message never holds the value.
    """
    out: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export "):].lstrip()
        name, sep, value = line.partition("=")
        name = name.strip()
        if not sep or not _NAME.match(name):
            raise ConfigurationError(
                f"{source}:{number}: expected KEY=VALUE, found a line without a valid name",
                code="config_invalid",
            )
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        elif value[:1] in ("'", '"'):
            raise ConfigurationError(
                f"{source}:{number}: {name}: expected a closing quote", code="config_invalid"
            )
        else:
            value = value.split(" #", 1)[0].rstrip()
        out[name] = value
    return out


def load_env_file(path: str | Path) -> dict[str, str]:
    """Load a dotenv file (see :func:`parse_env`) into a dict; the process env is untouched."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(f"cannot read env file {p}: {exc.strerror}",
                                 code="config_missing") from exc
    return parse_env(text, source=str(p))
