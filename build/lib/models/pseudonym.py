"""Pseudonymous participant keys for exports, and the instance secret behind them.

An export names each person by ``HMAC-SHA256(secret, participant id)``, hex, cut to 16
characters. The secret is 32 random bytes generated on first use and kept in the database, so:

- the key of a person is the same in every export (answers can be followed over time);
- two people get different keys (2⁶⁴ values; a collision is practically impossible);
- without database access nobody can turn a key back into a participant, let alone a Telegram
  id: the participant id is not in the export, and the key cannot be recomputed without the
  secret. With database access the data is there anyway.

Erasing a participant erases their row; an export made earlier keeps the key, but it no longer
leads to anyone.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import Column, String
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, SQLModel, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.base import UTCDateTime, utcnow

# The name of the secret, not the secret: that is random and lives in the database.
EXPORT_SECRET_NAME = "export_pseudonym"  # noqa: S105
KEY_LENGTH = 16


class InstanceSecret(SQLModel, table=True):
    """A random secret of this installation, created once and kept for good."""

    name: str = Field(sa_column=Column(String(64), primary_key=True))
    # Hex text rather than bytes: the same column type and round trip on SQLite and PostgreSQL.
    value: str = Field(sa_column=Column(String(128), nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


async def instance_secret(session: AsyncSession, name: str = EXPORT_SECRET_NAME) -> bytes:
    """Return the secret called ``name``, generating and storing it on first use.

    Two processes may both find it missing; the primary key lets only one insert win, and the
    loser reads the winner's value, so everyone ends up with the same secret.
    """
    stored = await session.get(InstanceSecret, name)
    if stored is not None:
        return bytes.fromhex(stored.value)
    candidate = InstanceSecret(name=name, value=secrets.token_bytes(32).hex())
    try:
        # A savepoint, so a lost race leaves the caller's transaction usable.
        async with session.begin_nested():
            session.add(candidate)
    except IntegrityError:
        # The savepoint's rollback has already detached the candidate.
        stored = (
            await session.exec(select(InstanceSecret).where(InstanceSecret.name == name))
        ).one()
        return bytes.fromhex(stored.value)
    return bytes.fromhex(candidate.value)


def pseudonym(secret: bytes, participant_id: int) -> str:
    """Return the pseudonymous key of a participant: 16 hex characters."""
    digest = hmac.new(secret, str(participant_id).encode("ascii"), hashlib.sha256)
    return digest.hexdigest()[:KEY_LENGTH]


async def pseudonymizer(session: AsyncSession) -> Callable[[int], str]:
    """Return a function from participant id to key, with the export secret loaded once."""
    secret = await instance_secret(session)
    return lambda participant_id: pseudonym(secret, participant_id)
