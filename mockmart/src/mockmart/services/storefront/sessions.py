"""The server-side session store: the browser's cookie holds only a random session id.

A session keeps the pending login (state, nonce, PKCE verifier), the tokens after it, the
user's display claims, the cart, the CSRF token of its forms and the checkout's
``Idempotency-Key``. Sessions live in this process's memory (one storefront process; a
restart logs everyone out) and end after ``idle`` seconds without a request. The id is
replaced at login (no session fixation) and the session deleted at logout.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mockmart.services.storefront.oidc import PendingLogin, TokenSet

__all__ = ["Session", "SessionStore"]


@dataclass
class Session:
    """One browser's state (mutable; the store hands out the object itself)."""

    id: str
    """The cookie's value (random, 256 bits)."""
    csrf: str
    """The token every POST form must echo (compared in constant time)."""
    seen: float
    """Last request (the store's clock)."""
    login: PendingLogin | None = None
    """A started login, until its callback."""
    tokens: TokenSet | None = None
    """The tokens once logged in."""
    user: dict[str, Any] = field(default_factory=dict)
    """Display claims: ``username``, ``name``, ``email``, ``roles``."""
    cart: dict[str, int] = field(default_factory=dict)
    """Product id -> quantity."""
    checkout_key: str = ""
    """The ``Idempotency-Key`` of the cart being checked out (new after each order)."""
    last_order: dict[str, Any] | None = None
    """shop-api's answer to the last checkout (the confirmation page)."""

    @property
    def logged_in(self) -> bool:
        """True once the code was exchanged."""
        return self.tokens is not None

    def csrf_ok(self, found: str | None) -> bool:
        """Whether a form's CSRF field is this session's token."""
        return found is not None and hmac.compare_digest(self.csrf.encode(), found.encode())


class SessionStore:
    """Sessions by id, with an idle timeout and an injectable clock."""

    def __init__(self, idle: float, clock: Callable[[], float] = time.time) -> None:
        self.idle = idle
        self.clock = clock
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    def get(self, session_id: str | None) -> Session | None:
        """The live session named by the cookie (its idle clock restarted), else None."""
        if not session_id:
            return None
        now = self.clock()
        with self._lock:
            session = self._sessions.get(session_id)
            if session is None:
                return None
            if now - session.seen > self.idle:
                del self._sessions[session_id]
                return None
            session.seen = now
            return session

    def create(self) -> Session:
        """A new anonymous session."""
        session = Session(id=secrets.token_urlsafe(32), csrf=secrets.token_urlsafe(32),
                          seen=self.clock())
        with self._lock:
            self._sessions[session.id] = session
            self._expire()
        return session

    def renew(self, session: Session) -> Session:
        """The same state under a new id and CSRF token (at login); the old id is dead."""
        with self._lock:
            self._sessions.pop(session.id, None)
            session.id = secrets.token_urlsafe(32)
            session.csrf = secrets.token_urlsafe(32)
            self._sessions[session.id] = session
        return session

    def delete(self, session: Session) -> None:
        """End a session (logout)."""
        with self._lock:
            self._sessions.pop(session.id, None)

    def __len__(self) -> int:
        return len(self._sessions)

    def _expire(self) -> None:
        now = self.clock()
        for sid in [s.id for s in self._sessions.values() if now - s.seen > self.idle]:
            del self._sessions[sid]
