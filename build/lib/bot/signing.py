"""Signed tokens for cookies and one-time links: the value, an expiry, and an HMAC over both.

The key is ``SESSION_SECRET`` when it is set, else a random secret generated once and kept in
the database (:func:`models.pseudonym.instance_secret`), so every replica signs alike and a
restart keeps everyone's session. A token carries no personal data: it names a session or a
link, which the database looks up.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.settings import Settings
from models.pseudonym import instance_secret

# The name of the stored secret, not the secret.
COOKIE_SECRET_NAME = "session_cookies"  # noqa: S105
_SEPARATOR = "."


async def cookie_secret(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]
) -> bytes:
    """The key that signs cookies and links: SESSION_SECRET, or the stored one."""
    if settings.session_secret is not None:
        return settings.session_secret.get_secret_value().encode()
    async with sessionmaker() as session, session.begin():
        return await instance_secret(session, COOKIE_SECRET_NAME)


def sign(secret: bytes, value: str, expires: datetime) -> str:
    """A token holding ``value`` until ``expires``; ``value`` must not contain a dot."""
    if _SEPARATOR in value:
        raise ValueError("a signed value cannot contain '.'")
    body = f"{value}{_SEPARATOR}{int(expires.timestamp())}"
    return f"{body}{_SEPARATOR}{_mac(secret, body)}"


def unsign(secret: bytes, token: str, now: datetime) -> str | None:
    """The value of a token signed with ``secret`` that has not expired; None otherwise."""
    value, sep, rest = token.partition(_SEPARATOR)
    expiry, sep2, mac = rest.partition(_SEPARATOR)
    if not (sep and sep2 and expiry.isdecimal() and len(expiry) <= 12):
        return None
    if not hmac.compare_digest(mac, _mac(secret, f"{value}{_SEPARATOR}{expiry}")):
        return None
    return value if int(expiry) > now.timestamp() else None


def _mac(secret: bytes, body: str) -> str:
    digest = hmac.new(secret, body.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
