"""SSO sessions, pending logins, one-use authorization codes and refresh-token rotation
state of the browser flow, in memory, behind one lock.

Pure apart from the lock: every method takes ``now``. Lifetimes and rotation rules are
Keycloak 26's realm settings with their defaults (see :class:`BrowserSettings`).
"""

from __future__ import annotations

import secrets
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace


@dataclass(frozen=True)
class BrowserSettings:
    """Realm settings of the browser flow (Keycloak's realm attributes and defaults)."""

    code_lifespan: int = 60
    """``accessCodeLifespan``: seconds an authorization code may be redeemed."""
    login_lifespan: int = 1800
    """``accessCodeLifespanLogin``: seconds the login page of one request stays usable."""
    session_idle: int = 1800
    """``ssoSessionIdleTimeout``: an SSO session ends after this long without a refresh."""
    session_max: int = 36000
    """``ssoSessionMaxLifespan``: an SSO session ends this long after the login."""
    revoke_refresh_token: bool = False
    """``revokeRefreshToken``: a refresh token may be used only ``max_reuse`` + 1 times and
    only while it is the latest one of its client session."""
    max_reuse: int = 0
    """``refreshTokenMaxReuse``."""

    @classmethod
    def from_realm(cls, raw: Mapping[str, int], session_idle: int) -> BrowserSettings:
        """Settings from ``Realm.browser`` (absent keys keep Keycloak's defaults)."""
        base = cls(session_idle=session_idle)
        return replace(
            base,
            code_lifespan=raw.get("accessCodeLifespan", base.code_lifespan),
            login_lifespan=raw.get("accessCodeLifespanLogin", base.login_lifespan),
            session_max=raw.get("ssoSessionMaxLifespan", base.session_max),
            revoke_refresh_token=bool(raw.get("revokeRefreshToken", 0)),
            max_reuse=raw.get("refreshTokenMaxReuse", base.max_reuse))


@dataclass(frozen=True)
class AuthRequest:
    """A validated authorization request, waiting for the user or carried by a code."""

    client_id: str
    """The requesting client."""
    redirect_uri: str
    """The ``redirect_uri`` as sent (the token request must repeat it)."""
    response_mode: str
    """``query``, ``fragment`` or ``form_post``."""
    scope: str
    """The requested ``scope``."""
    state: str | None
    """``state``, echoed."""
    nonce: str | None
    """``nonce``, put in the ID token."""
    code_challenge: str | None
    """PKCE ``code_challenge``."""
    code_challenge_method: str | None
    """PKCE method (``plain`` when a challenge came without one)."""


@dataclass
class SsoSession:
    """One user's SSO session (Keycloak's user session)."""

    id: str
    """``sid`` and ``session_state``."""
    user_id: str
    """The user's id."""
    auth_time: int
    """When the user authenticated (``auth_time``)."""
    last_refresh: int
    """Last activity, for the idle timeout."""
    refresh: dict[str, tuple[str, int]] = field(default_factory=dict)
    """Per client: the latest refresh token's ``jti`` and how often it was used."""


@dataclass(frozen=True)
class IssuedCode:
    """What a redeemed code carries."""

    request: AuthRequest
    """The authorization request."""
    session_id: str
    """The SSO session that made it."""
    expires_at: float
    """Redeemable until then."""


class SessionStore:
    """In-memory SSO sessions, pending logins and codes of one provider (thread-safe)."""

    def __init__(self, settings: BrowserSettings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._sessions: dict[str, SsoSession] = {}
        self._ever: set[str] = set()
        self._pending: dict[str, tuple[AuthRequest, float]] = {}
        self._codes: dict[str, IssuedCode] = {}
        self._spent: dict[str, str] = {}

    # -- sessions ------------------------------------------------------------------
    def create_session(self, user_id: str, now: float) -> SsoSession:
        """Start an SSO session for ``user_id``."""
        session = SsoSession(id=str(uuid.uuid4()), user_id=user_id, auth_time=int(now),
                             last_refresh=int(now))
        with self._lock:
            self._sessions[session.id] = session
            self._ever.add(session.id)
        return session

    def active(self, session_id: str, now: float) -> SsoSession | None:
        """The session if it exists and neither its idle nor its max lifespan has passed."""
        with self._lock:
            session = self._sessions.get(session_id)
            if session is None:
                return None
            if (now >= session.last_refresh + self.settings.session_idle
                    or now >= session.auth_time + self.settings.session_max):
                del self._sessions[session_id]
                return None
            return session

    def is_browser_session(self, session_id: str) -> bool:
        """Whether ``session_id`` was ever a browser session here (even if ended)."""
        with self._lock:
            return session_id in self._ever

    def end(self, session_id: str) -> bool:
        """End a session (logout, code replay); False when it was not active."""
        with self._lock:
            return self._sessions.pop(session_id, None) is not None

    def remaining(self, session: SsoSession, now: float) -> int:
        """Seconds a refresh token issued now stays valid (idle, capped by max lifespan)."""
        return max(0, min(self.settings.session_idle,
                          session.auth_time + self.settings.session_max - int(now)))

    # -- refresh rotation ----------------------------------------------------------
    def record_refresh(self, session: SsoSession, client_id: str, jti: str) -> None:
        """Remember ``jti`` as the client session's latest refresh token."""
        with self._lock:
            session.refresh[client_id] = (jti, 0)

    def use_refresh(self, session: SsoSession, client_id: str, jti: str, now: float) -> bool:
        """Count one use of a refresh token; False when rotation forbids it (Keycloak's
        ``revokeRefreshToken`` with ``refreshTokenMaxReuse``)."""
        with self._lock:
            session.last_refresh = int(now)
            if not self.settings.revoke_refresh_token:
                return True
            latest, uses = session.refresh.get(client_id, (jti, 0))
            if latest != jti or uses >= self.settings.max_reuse + 1:
                return False
            session.refresh[client_id] = (latest, uses + 1)
            return True

    # -- pending logins and codes --------------------------------------------------
    def put_pending(self, request: AuthRequest, now: float) -> str:
        """Park a request while the login page is shown; returns its ``tab_id``."""
        tab_id = secrets.token_urlsafe(16)
        with self._lock:
            for key in [k for k, (_, exp) in self._pending.items() if exp <= now]:
                del self._pending[key]
            self._pending[tab_id] = (request, now + self.settings.login_lifespan)
        return tab_id

    def pending(self, tab_id: str, now: float) -> AuthRequest | None:
        """The parked request of ``tab_id``, while its login page is usable."""
        with self._lock:
            entry = self._pending.get(tab_id)
        if entry is None or entry[1] <= now:
            return None
        return entry[0]

    def drop_pending(self, tab_id: str) -> None:
        """Forget a parked request (after a successful login)."""
        with self._lock:
            self._pending.pop(tab_id, None)

    def issue_code(self, request: AuthRequest, session_id: str, now: float) -> str:
        """A one-use code for ``request`` in ``session_id`` (Keycloak's three-part shape)."""
        code = f"{uuid.uuid4()}.{session_id}.{uuid.uuid4()}"
        with self._lock:
            for key in [k for k, c in self._codes.items() if c.expires_at <= now]:
                self._spent[key] = self._codes.pop(key).session_id
            self._codes[code] = IssuedCode(request, session_id,
                                           now + self.settings.code_lifespan)
        return code

    def redeem(self, code: str, now: float) -> IssuedCode | None:
        """Spend ``code``: its data when redeemable now, else None.

        A code presented a second time also ends the session that made it (Keycloak).
        """
        with self._lock:
            issued = self._codes.pop(code, None)
            if issued is None:
                replayed = self._spent.get(code)
                if replayed is not None:
                    self._sessions.pop(replayed, None)
                return None
            self._spent[code] = issued.session_id
            if issued.expires_at <= now or issued.session_id not in self._sessions:
                return None
            return issued
