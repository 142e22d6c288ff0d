"""An RFC 6749 §5.2 error answer, as the provider sends it (status, error, description)."""

from __future__ import annotations

from typing import Any


class OAuthError(Exception):
    """Raised by the pure endpoint logic; the HTTP shell turns it into a JSON answer."""

    def __init__(self, status: int, error: str, description: str | None = None) -> None:
        super().__init__(f"{status} {error}: {description}")
        self.status = status
        self.error = error
        self.description = description

    def body(self) -> dict[str, Any]:
        """The JSON body: ``error`` and, when there is one, ``error_description``."""
        out: dict[str, Any] = {"error": self.error}
        if self.description is not None:
            out["error_description"] = self.description
        return out


INVALID_CREDENTIALS = "Invalid client or Invalid client credentials"
