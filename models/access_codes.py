"""One-time codes for closed consultations: one code, one response.

Anyone with a browser can open as many web sessions as they like, and so answer an open
consultation more than once. A municipality that needs one answer per household prints a code
on each letter (``medvirk codes generate SLUG --count N``) and marks the consultation
``access: code`` in its file: before the first question the person is asked for the code, and a
code opens one response, once.

Codes are stored only as digests, and a used code does not record who used it: the list of
which code went to which address (if the municipality keeps one) cannot be joined to the
answers. Wrong guesses are counted per person: after :data:`MAX_FAILURES` within
:data:`FAILURE_WINDOW` the person must wait.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import Column, ForeignKey, Integer, String, delete, update
from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.base import UTCDateTime
from models.participant import Participant

#: Letters and digits that cannot be mistaken for each other on paper (no 0/O, 1/I/L, U/V).
ALPHABET = "ABCDEFGHJKMNPQRSTWXYZ23456789"
#: Ten characters of 29: about 48 bits, printed as two groups of five ("K7QMD-3XPAW").
CODE_LENGTH = 10
GROUP = 5
MAX_COUNT = 100_000
MAX_FAILURES = 5
FAILURE_WINDOW = timedelta(hours=1)
#: The question for a code waits this long for the typed code.
PROMPT_WINDOW = timedelta(hours=1)


class Access(StrEnum):
    """Who may answer a consultation."""

    OPEN = "open"  # anyone
    CODE = "code"  # someone with a one-time code


class AccessCode(SQLModel, table=True):
    """One code of a closed consultation: its digest, and when it was used (not by whom)."""

    __tablename__ = "access_code"

    id: int | None = Field(default=None, primary_key=True)
    consultation_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("consultation.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    digest: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    created_at: datetime = Field(sa_type=UTCDateTime)
    used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class CodePrompt(SQLModel, table=True):
    """A person was asked for a consultation's code: their next typed message is the code."""

    __tablename__ = "code_prompt"

    participant_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("participant.id", ondelete="CASCADE"), primary_key=True
        )
    )
    consultation_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("consultation.id", ondelete="CASCADE"), nullable=False
        )
    )
    source: str | None = Field(default=None, max_length=64)
    # The consultation's language the person chose before being asked for the code.
    language: str | None = Field(default=None, max_length=8)
    asked_at: datetime = Field(sa_type=UTCDateTime)
    failures: int = 0
    first_failure_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class CodeCheck(StrEnum):
    """What became of a typed code."""

    ADMITTED = "admitted"
    WRONG = "wrong"  # no such code for this consultation
    USED = "used"  # a right code that opened a response before
    TOO_MANY = "too_many"  # too many wrong codes lately: not even checked


@dataclass(frozen=True)
class Checked:
    """A typed code's outcome, and how long to wait after too many wrong ones."""

    outcome: CodeCheck
    wait: timedelta = timedelta(0)


def new_code() -> str:
    """A random code, grouped for reading aloud and typing."""
    raw = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
    return f"{raw[:GROUP]}-{raw[GROUP:]}"


def normalise(typed: str) -> str:
    """The code as typed, without spaces, dashes and case."""
    return "".join(ch for ch in typed.upper() if ch.isascii() and ch.isalnum())


def _digest(consultation_id: int, code: str) -> str:
    # Per consultation: the same letters open nothing elsewhere.
    return hashlib.sha256(f"{consultation_id}:{normalise(code)}".encode()).hexdigest()


async def generate_codes(
    session: AsyncSession, consultation_id: int, count: int, now: datetime
) -> list[str]:
    """Make ``count`` new codes for the consultation; return them (they are not kept readable).

    Raises:
        ValueError: ``count`` is not between 1 and :data:`MAX_COUNT`.
    """
    if not 1 <= count <= MAX_COUNT:
        raise ValueError(f"the count must be between 1 and {MAX_COUNT}")
    codes: dict[str, str] = {}
    while len(codes) < count:
        code = new_code()
        codes.setdefault(_digest(consultation_id, code), code)
    taken = set(
        (
            await session.exec(
                select(AccessCode.digest).where(col(AccessCode.digest).in_(list(codes)))
            )
        ).all()
    )
    for digest in taken:  # astronomically rare; drawn again rather than printed twice
        codes.pop(digest)
    session.add_all(
        AccessCode(consultation_id=consultation_id, digest=digest, created_at=now)
        for digest in codes
    )
    await session.flush()
    if len(codes) < count:
        codes_more = await generate_codes(session, consultation_id, count - len(codes), now)
        return [*codes.values(), *codes_more]
    return list(codes.values())


async def code_counts(session: AsyncSession, consultation_id: int) -> tuple[int, int]:
    """How many codes the consultation has, and how many were used."""
    rows = (
        await session.exec(
            select(AccessCode.used_at).where(AccessCode.consultation_id == consultation_id)
        )
    ).all()
    return len(rows), sum(1 for used in rows if used is not None)


async def ask_for_code(
    session: AsyncSession,
    participant: Participant,
    consultation_id: int,
    source: str | None,
    now: datetime,
    language: str | None = None,
) -> None:
    """Note that the person was asked for the code; their next typed message is taken as it.

    Wrong guesses made lately still count: asking again does not reset them.
    """
    prompt = await session.get(CodePrompt, participant.id)
    if prompt is None:
        prompt = CodePrompt(
            participant_id=participant.id or 0, consultation_id=consultation_id, asked_at=now
        )
        session.add(prompt)
    prompt.consultation_id = consultation_id
    prompt.source = source
    prompt.language = language
    prompt.asked_at = now
    # Not answering anything else meanwhile: typed text is the code, not an answer.
    participant.active_response_id = None
    await session.flush()


async def waiting_prompt(
    session: AsyncSession, participant: Participant | None, now: datetime
) -> CodePrompt | None:
    """The question for a code that the person's typed text answers, if one waits."""
    if participant is None or participant.active_response_id is not None:
        return None
    prompt = await session.get(CodePrompt, participant.id)
    if prompt is None or now - prompt.asked_at > PROMPT_WINDOW:
        return None
    return prompt


async def forget_prompt(session: AsyncSession, participant: Participant) -> None:
    """Stop waiting for a code (another consultation was opened, or the person paused)."""
    await session.exec(
        delete(CodePrompt).where(  # type: ignore[call-overload]
            col(CodePrompt.participant_id) == participant.id
        )
    )


async def check_code(
    session: AsyncSession, prompt: CodePrompt, typed: str, now: datetime
) -> Checked:
    """Use the typed code for the prompt's consultation, if it is right and unused.

    A right code is marked used in this transaction (a second person with the same code, at
    the same moment, finds it used: the update is conditional). The prompt stays; the caller
    opens the response and then forgets it.
    """
    if prompt.first_failure_at is not None and now - prompt.first_failure_at > FAILURE_WINDOW:
        prompt.failures, prompt.first_failure_at = 0, None
    if prompt.failures >= MAX_FAILURES and prompt.first_failure_at is not None:
        return Checked(CodeCheck.TOO_MANY, prompt.first_failure_at + FAILURE_WINDOW - now)
    digest = _digest(prompt.consultation_id, typed)
    taken = await session.exec(
        update(AccessCode)  # type: ignore[call-overload]
        .where(
            col(AccessCode.consultation_id) == prompt.consultation_id,
            col(AccessCode.digest) == digest,
            col(AccessCode.used_at).is_(None),
        )
        .values(used_at=now)
    )
    if taken.rowcount == 1:
        return Checked(CodeCheck.ADMITTED)
    exists_used = await session.exec(
        select(AccessCode.id).where(
            AccessCode.consultation_id == prompt.consultation_id, AccessCode.digest == digest
        )
    )
    outcome = CodeCheck.USED if exists_used.first() is not None else CodeCheck.WRONG
    prompt.failures += 1
    prompt.first_failure_at = prompt.first_failure_at or now
    await session.flush()
    return Checked(outcome)
