"""The audit trail: one JSON line per authentication decision on logger ``svcauth.audit``.

Fields: ``time`` (UTC, ISO 8601, ms), ``client_id`` (the caller, when known), ``endpoint``
(``METHOD /path``, no query string), ``decision`` (``allow``/``deny``), ``status``,
``error_code`` and ``trace_id`` (32 hex digits, when a span is current). Never the token, a
secret or any claim value other than the caller's client id. The line costs nothing unless
the logger is enabled for INFO.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

from ._state import current_trace_id

AUDIT_LOGGER = "svcauth.audit"
audit_log = logging.getLogger(AUDIT_LOGGER)

_MAX_ENDPOINT = 200


def _clean(endpoint: str | None) -> str | None:
    if endpoint is None:
        return None
    text = "".join(ch for ch in endpoint.split("?", 1)[0] if ch.isprintable())
    return text[:_MAX_ENDPOINT]


def audit_record(decision: Any) -> dict[str, Any]:
    """The audit fields for an ``AuthDecision`` (pure apart from the time and trace id)."""
    return {
        "time": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "client_id": decision.client_id,
        "endpoint": _clean(getattr(decision, "endpoint", None)),
        "decision": "allow" if decision.allowed else "deny",
        "status": decision.status,
        "error_code": decision.code,
        "trace_id": current_trace_id(),
    }


def audit(decision: Any) -> None:
    """Log ``decision`` as one JSON line on ``svcauth.audit`` (when enabled for INFO)."""
    if not audit_log.isEnabledFor(logging.INFO):
        return
    record = audit_record(decision)
    audit_log.info(json.dumps(record, separators=(",", ":")), extra={"svcauth_audit": record})


def enable_audit_log(stream: TextIO | None = None) -> logging.Handler:
    """Send ``svcauth.audit`` lines, bare, to ``stream`` (stderr by default); returns the
    handler so it can be removed. The logger stops propagating (no double lines)."""
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    audit_log.addHandler(handler)
    audit_log.setLevel(logging.INFO)
    audit_log.propagate = False
    return handler
