"""Secrets held so that ``repr()``/``str()`` never show them, and secrets read from files.

A file-backed secret is re-read when the file's mtime or size changes (checked when a token
request is built, never on the cached-token path) and on demand after the token endpoint
rejected the credential, so a rotated secret is picked up without a restart.
"""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

from .._errors import ConfigurationError


class Secret:
    """A secret string. ``repr``/``str`` print ``Secret('***')``; :meth:`reveal` returns it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not isinstance(value, str) or not value:
            raise ConfigurationError("client secret: expected a non-empty string", code="config_missing")
        self._value = value

    def reveal(self) -> str:
        """The secret value, for building the token request only."""
        return self._value

    def fingerprint(self) -> str:
        """A SHA-256 based fingerprint (16 hex digits): tells secrets apart, reveals nothing usable."""
        return hashlib.sha256(b"svcauth-secret:" + self._value.encode("utf-8")).hexdigest()[:16]

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self.fingerprint())

    def __reduce__(self) -> str | tuple[object, ...]:
        raise TypeError("a Secret cannot be pickled")


class SecretFile:
    """A secret read from a file (trailing newline stripped), re-read when the file changes."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._secret: Secret | None = None
        self.current()  # fail at construction when the file is missing or empty

    def _read(self) -> None:
        try:
            st = os.stat(self.path)
            text = self.path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigurationError(
                f"client secret file {str(self.path)!r}: expected a readable file "
                f"({type(exc).__name__})", code="config_missing",
            ) from None
        if not text:
            raise ConfigurationError(
                f"client secret file {str(self.path)!r}: expected a secret, found an empty file",
                code="config_missing",
            )
        self._secret = Secret(text)
        self._stamp = (st.st_mtime_ns, st.st_size)

    def current(self) -> Secret:
        """The secret, re-read first when the file's mtime or size changed."""
        with self._lock:
            try:
                st = os.stat(self.path)
                stamp: tuple[int, int] | None = (st.st_mtime_ns, st.st_size)
            except OSError:
                stamp = None
            if self._secret is None or stamp != self._stamp:
                self._read()
            assert self._secret is not None
            return self._secret

    def reload(self) -> bool:
        """Re-read the file unconditionally; True when the secret changed."""
        with self._lock:
            before = self._secret
            self._read()
            return before != self._secret

    def __repr__(self) -> str:
        return f"SecretFile({str(self.path)!r})"
