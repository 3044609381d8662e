"""The channels people answer through: Telegram, and the municipality's own web chat.

A person is known by one id in one channel. Telegram's user ids have at most 52 significant
bits; a web resident's id is drawn from :data:`WEB_ID_BASE` upwards (2⁶⁰ and above), derived from
the random key in their session cookie. The two ranges cannot meet, so a web resident can
never be mistaken for a Telegram account (and never holds a role, which only Telegram
accounts can be granted), and the conversation, which keys everything by that id, needs to
know nothing of the channel.
"""

from __future__ import annotations

import hashlib
from enum import StrEnum

#: The first id of a web resident; Telegram's ids stay below 2**52.
WEB_ID_BASE = 1 << 60
#: Web ids take 56 bits above the base: a collision between two sessions is as likely as
#: guessing a 56-bit number (the key itself has 128 bits).
_WEB_ID_BITS = 56


class Channel(StrEnum):
    """Where a person talks to Medvirk."""

    TELEGRAM = "telegram"
    WEB = "web"


def channel_of(user_id: int) -> Channel:
    """The channel a person's id belongs to."""
    return Channel.WEB if is_web_id(user_id) else Channel.TELEGRAM


def is_web_id(user_id: int) -> bool:
    """Whether ``user_id`` is a web resident's (never a Telegram account's)."""
    return WEB_ID_BASE <= user_id < WEB_ID_BASE + (1 << _WEB_ID_BITS)


def web_user_id(session_key: str) -> int:
    """The web resident's id for the random key of their session cookie.

    A digest, so the database need not keep the key at all: the signed cookie is the only
    place the key lives, and the id alone does not lead back to it.
    """
    digest = hashlib.sha256(f"medvirk-web:{session_key}".encode()).digest()
    return WEB_ID_BASE + int.from_bytes(digest[: _WEB_ID_BITS // 8], "big")
