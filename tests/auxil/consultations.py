"""A small consultation with every question type and a branch, for tests."""

from __future__ import annotations

from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from models.consultation import Consultation, import_consultation
from models.consultation_file import parse_consultation_file

EVERY_TYPE = """
slug: park
title: {nb: Ny park, en: New park}
intro: {nb: Fem korte spørsmål., en: Five short questions.}
questions:
  - id: use
    type: single_choice
    text: {nb: Ville du brukt parken?, en: Would you use the park?}
    options:
      - {id: often, text: {nb: Ofte, en: Often}}
      - {id: sometimes, text: {nb: Av og til, en: Sometimes}}
      - {id: never, text: {nb: Aldri, en: Never}}
  - id: activities
    type: multiple_choice
    text: {nb: Hva vil du gjøre der?, en: What would you do there?}
    max_choices: 2
    options:
      - {id: play, text: {nb: Leke, en: Play}}
      - {id: sport, text: {nb: Idrett, en: Sport}}
      - {id: rest, text: {nb: Slappe av, en: Relax}}
    show_if: {question: use, in: [often, sometimes]}
  - id: agree
    type: scale
    min: 1
    max: 5
    labels: {min: {nb: Helt uenig, en: Disagree}, max: {nb: Helt enig, en: Agree}}
    text: {nb: Kommunen bør prioritere parker., en: The municipality should prioritise parks.}
  - id: trees
    type: yes_no
    text: {nb: Vil du ha flere trær?, en: Do you want more trees?}
  - id: idea
    type: free_text
    required: false
    max_length: 200
    text: {nb: Har du andre ideer?, en: Any other ideas?}
"""


# A closed consultation: only with a one-time code from a letter (models.access_codes).
CLOSED = """
slug: skolevei
title: {nb: Skoleveien, en: The way to school}
access: code
questions:
  - id: safe
    type: yes_no
    text: {nb: Er skoleveien trygg?, en: Is the way to school safe?}
  - id: why
    type: free_text
    required: false
    text: {nb: Hvorfor?, en: Why?}
"""


async def add_consultation(
    session: AsyncSession, source: str = EVERY_TYPE, *, publish: bool = True
) -> Consultation:
    """Import a consultation file and commit it."""
    consultation, _ = await import_consultation(
        session, parse_consultation_file(source), publish=publish
    )
    await session.commit()
    return consultation


def at(text: str) -> datetime:
    """An aware datetime from ISO text."""
    return datetime.fromisoformat(text)
