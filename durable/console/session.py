"""Console sessions: a signed cookie, a per-session CSRF token, and the login link that opens one.

A session is a cookie `durable_console=v1.<id>.<expires>.<mac>`, where mac is
HMAC-SHA256 over the rest under a key made when the server starts and never
written anywhere: a cookie that was forged, changed, or issued by an earlier
server process does not verify and is refused.  The cookie is HttpOnly
(scripts cannot read it) and SameSite=Strict (no other site's page can send
it).  Every form that changes something carries the session's CSRF token,
HMAC-SHA256("csrf." + id); a POST without the right one is refused.

Opening a session takes the login key: the one `durable serve` prints in its
login link, HMAC-SHA256 of the API's bearer token under a fixed label, so
the printed link never shows the bearer token itself and works as long as
the token does.  The bearer token is accepted too, but only pasted into the
login form (a POST body): never from a URL, where it would reach the
browser's history and the logs; and it is never put in a page.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable

import attrs

COOKIE = "durable_console"
LIFETIME = 12 * 3600.0


def _mac(key: bytes, text: str) -> str:
    digest = hmac.new(key, text.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def login_key(token: str) -> str:
    """The key of the printed login link: derived from the bearer token, not the token."""
    return _mac(token.encode(), "durable console login")


@attrs.frozen(slots=True)
class Session:
    id: str
    expires: float
    csrf: str


class Sessions:
    """Issues and checks session cookies for one server process (its key lives in memory only)."""

    def __init__(self, token: str, lifetime: float = LIFETIME, clock: Callable[[], float] = time.time) -> None:
        self._token = token
        self._login_key = login_key(token)
        self._key = secrets.token_bytes(32)
        self.lifetime = lifetime
        self.clock = clock

    @property
    def login_key(self) -> str:
        return self._login_key

    def admits(self, presented: str) -> bool:
        """Whether `presented`, typed into the login form, opens a session: the login link's key, or the
        bearer token itself."""
        given = presented.encode()
        return hmac.compare_digest(given, self._login_key.encode()) | hmac.compare_digest(given, self._token.encode())

    def admits_link(self, presented: str) -> bool:
        """Whether `presented`, the `key` of a login link, opens a session: the login key only, so the bearer
        token in a URL is refused like any wrong key."""
        return hmac.compare_digest(presented.encode(), self._login_key.encode())

    def issue(self) -> tuple[str, Session]:
        """A new session and the cookie value that carries it."""
        session_id = secrets.token_urlsafe(18)
        expires = int(self.clock() + self.lifetime)
        body = f"v1.{session_id}.{expires}"
        return f"{body}.{_mac(self._key, body)}", self._session(session_id, expires)

    def open(self, cookie: str | None) -> Session | None:
        """The session a cookie carries, or None: missing, malformed, forged, tampered with or expired."""
        if not cookie or len(cookie) > 200:
            return None
        parts = cookie.split(".")
        if len(parts) != 4 or parts[0] != "v1" or not parts[2].isdigit():
            return None
        body = ".".join(parts[:3])
        if not hmac.compare_digest(parts[3].encode(), _mac(self._key, body).encode()):
            return None
        expires = int(parts[2])
        if expires < self.clock():
            return None
        return self._session(parts[1], expires)

    def _session(self, session_id: str, expires: float) -> Session:
        return Session(session_id, expires, _mac(self._key, f"csrf.{session_id}"))

    @staticmethod
    def csrf_ok(session: Session, presented: str | None) -> bool:
        return presented is not None and hmac.compare_digest(presented.encode(), session.csrf.encode())
