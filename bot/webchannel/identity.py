"""Who is on the page: a random session key in a signed cookie, and the checks around it.

A web resident has no account. Their first visit gets a random 128-bit session key in a signed,
``HttpOnly``, ``SameSite=Lax`` cookie (``Secure`` over TLS); their participant id is derived
from the key (:func:`models.channels.web_user_id`), so nothing but the cookie holds it. A
missing, expired, altered or foreign cookie simply starts a new anonymous session: never
someone else's.

Every form carries a CSRF token: an HMAC of the session key, so a page of another site cannot
make a resident's browser act (and ``SameSite=Lax`` keeps the cookie off its requests anyway).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from aiohttp import web

from bot.signing import sign, unsign
from models.channels import web_user_id

SESSION_COOKIE = "medvirk_session"
LANGUAGE_COOKIE = "medvirk_language"
#: A session lasts this long after the last visit (each page view renews it).
SESSION_LIFETIME = timedelta(days=180)
_KEY_BYTES = 16


@dataclass(frozen=True)
class Visitor:
    """The person on the page: their session key, their id, and whether the session is new."""

    key: str
    user_id: int
    new: bool

    @property
    def chat_id(self) -> int:
        """Their chat: a private chat's id is its person's id, as in Telegram."""
        return self.user_id


def _valid_key(key: str) -> bool:
    return len(key) == 22 and all(c.isalnum() or c in "-_" for c in key)


def new_visitor() -> Visitor:
    """A new anonymous session."""
    key = secrets.token_urlsafe(_KEY_BYTES)
    return Visitor(key, web_user_id(key), new=True)


def read_visitor(request: web.Request, secret: bytes, now: datetime) -> Visitor:
    """The session the request's cookie names, or a new one when it names none validly."""
    token = request.cookies.get(SESSION_COOKIE, "")
    key = unsign(secret, token, now) if token else None
    if key is None or not _valid_key(key):
        return new_visitor()
    return Visitor(key, web_user_id(key), new=False)


def keep_session(
    response: web.StreamResponse, visitor: Visitor, secret: bytes, now: datetime, *, secure: bool
) -> None:
    """Set (or renew) the session cookie on the response."""
    expires = now + SESSION_LIFETIME
    response.set_cookie(
        SESSION_COOKIE,
        sign(secret, visitor.key, expires),
        max_age=int(SESSION_LIFETIME.total_seconds()),
        path="/",
        httponly=True,
        samesite="Lax",
        secure=secure,
    )


def csrf_token(secret: bytes, visitor: Visitor) -> str:
    """The token every form of this session carries."""
    digest = hmac.new(secret, f"csrf:{visitor.key}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:24]).decode()


def csrf_ok(secret: bytes, visitor: Visitor, given: str) -> bool:
    """Whether a form's token is this session's (a new session has none yet)."""
    return not visitor.new and hmac.compare_digest(
        given.encode(), csrf_token(secret, visitor).encode()
    )


def new_nonce() -> str:
    """A form's one-time number: the same form sent twice is taken once."""
    return secrets.token_urlsafe(12)


def _from_trusted_proxy(request: web.Request, trusted: frozenset[str]) -> bool:
    return bool(trusted) and (request.remote or "") in trusted


def client_address(request: web.Request, trusted: frozenset[str]) -> str:
    """The client's address: the proxy's word for it when the request came from a trusted proxy.

    Only the last address of ``X-Forwarded-For`` is taken: it is the one the proxy itself saw;
    anything before it the client may have written.
    """
    remote = request.remote or "unknown"
    if _from_trusted_proxy(request, trusted):
        forwarded = request.headers.get("X-Forwarded-For", "").split(",")[-1].strip()
        try:
            return str(ipaddress.ip_address(forwarded))
        except ValueError:
            return remote
    return remote


def is_secure(request: web.Request, trusted: frozenset[str]) -> bool:
    """Whether the resident reached the page over TLS (directly, or through a trusted proxy)."""
    if request.secure:
        return True
    if _from_trusted_proxy(request, trusted):
        return request.headers.get("X-Forwarded-Proto", "").lower() == "https"
    return False
