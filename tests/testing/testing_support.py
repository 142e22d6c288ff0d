"""Shared by the svcauth.testing tests: the sample project's realm (a realm that is not
the repository's own) and a decoder that does not verify."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from svcauth._jws import b64url_decode

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "examples" / "testing_sample"
REALM_FILE = SAMPLE / "realm" / "billing-realm.json"
ENV_FILE = SAMPLE / "realm" / "dev.env"
NOW = 1_800_000_000.0
"""The frozen time of the module-wide factory."""


def claims_of(token: str) -> dict[str, Any]:
    """A JWT's payload, not verified."""
    return json.loads(b64url_decode(token.split(".")[1]))  # type: ignore[no-any-return]


def header_of(token: str) -> dict[str, Any]:
    """A JWT's header, not verified."""
    return json.loads(b64url_decode(token.split(".")[0]))  # type: ignore[no-any-return]
