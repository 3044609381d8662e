"""A consultation with a free-text question, and people answering it, for moderation tests."""

from __future__ import annotations

from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from models import response as flow
from models.consultation import Consultation
from models.participant import Participant, get_or_create_participant

IDEAS = """
slug: ideas
title: {nb: Ideer for Holmen, en: Ideas for Holmen}
questions:
  - id: idea
    type: free_text
    required: false
    text: {nb: Har du en idé?, en: Any idea?}
  - id: use
    type: yes_no
    text: {nb: Bruker du parken?, en: Do you use the park?}
"""


async def write_idea(
    session: AsyncSession,
    consultation: Consultation,
    telegram_id: int,
    text: str,
    now: datetime,
) -> Participant:
    """A person answers the free-text question with ``text`` and yes/no with "ja"; commits."""
    person = await get_or_create_participant(session, telegram_id, telegram_id)
    assert consultation.id is not None
    await flow.start(session, person, consultation.id, source=None, now=now)
    await flow.type_answer(session, person, text, now)
    await flow.type_answer(session, person, "ja", now)
    await session.commit()
    return person
