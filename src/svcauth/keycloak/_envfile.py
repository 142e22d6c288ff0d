"""Reading ``KEY=value`` files such as ``deploy/dev.env``.

The format is the small common subset of dotenv: one ``KEY=value`` a line, ``#`` comments and
blank lines ignored, an optional ``export`` prefix, and values optionally in matching single or
double quotes (no escapes, no interpolation).
"""

from __future__ import annotations

import re
from pathlib import Path

_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def parse_env_text(text: str) -> dict[str, str]:
    """Parse ``KEY=value`` lines into a dict; raise ``ValueError`` naming the bad line number."""
    values: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export "):].lstrip()
        key, sep, value = line.partition("=")
        key = key.strip()
        if not sep or not _KEY.fullmatch(key):
            raise ValueError(f"env file line {number}: expected KEY=value")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key] = value
    return values


def read_env_file(path: str | Path) -> dict[str, str]:
    """Read and parse an env file (see :func:`parse_env_text`)."""
    return parse_env_text(Path(path).read_text(encoding="utf-8"))
