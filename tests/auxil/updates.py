"""Raw Telegram updates as a webhook receives them, and people ready to answer.

The runtime tests and the webhook benchmark play Telegram: they POST these JSON updates to
``/telegram`` and resend whatever did not get a 2xx. The people are prepared straight in the
database (consent given, a consultation started), so each update is one answer.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models import response as flow
from models.consultation import Consultation, Question, import_consultation
from models.consultation_file import parse_consultation_file
from models.participant import record_privacy_decision

JSON = dict[str, Any]

#: Ten scale questions: each typed digit answers the current one and moves to the next, so an
#: update handled twice would show up as an answer in the wrong place.
SCALES = "slug: scales\ntitle: {nb: Skalaer, en: Scales}\nquestions:\n" + "".join(
    f"  - {{id: s{n}, type: scale, min: 1, max: 9, text: {{nb: Spørsmål {n}, en: Q {n}}}}}\n"
    for n in range(1, 11)
)


def user_json(user_id: int, language_code: str = "nb") -> JSON:
    """A Telegram ``User`` without a name beyond a placeholder."""
    return {
        "id": user_id,
        "is_bot": False,
        "first_name": f"P{user_id}",
        "language_code": language_code,
    }


def text_update(update_id: int, user_id: int, text: str, message_id: int | None = None) -> JSON:
    """A private text message from ``user_id`` (a command gets its entity, as clients add)."""
    message: JSON = {
        "message_id": message_id or update_id,
        "from": user_json(user_id),
        "chat": {"id": user_id, "type": "private", "first_name": f"P{user_id}"},
        "date": int(time.time()),
        "text": text,
    }
    if text.startswith("/"):
        length = len(text.split()[0])
        message["entities"] = [{"type": "bot_command", "offset": 0, "length": length}]
    return {"update_id": update_id, "message": message}


def press_update(
    update_id: int, user_id: int, data: str, message_id: int = 1, query_id: str | None = None
) -> JSON:
    """A button press on the bot message ``message_id`` in the person's chat.

    The sandbox answers answerCallbackQuery only for a ``query_id`` it made (``press``).
    """
    return {
        "update_id": update_id,
        "callback_query": {
            "id": query_id or f"q{update_id}",
            "from": user_json(user_id),
            "message": {
                "message_id": message_id,
                "from": {"id": 123456, "is_bot": True, "first_name": "Medvirk"},
                "chat": {"id": user_id, "type": "private", "first_name": f"P{user_id}"},
                "date": int(time.time()),
                "text": "…",
            },
            "chat_instance": str(user_id),
            "data": data,
        },
    }


async def add_scales(session: AsyncSession) -> Consultation:
    """Import and open the ten-scale consultation; commit."""
    consultation, _ = await import_consultation(
        session, parse_consultation_file(SCALES), publish=True
    )
    await session.commit()
    return consultation


async def question_ids(session: AsyncSession, consultation_id: int) -> list[int]:
    """The consultation's question ids in order."""
    rows = await session.exec(
        select(Question.id)
        .where(Question.consultation_id == consultation_id)
        .order_by(col(Question.position))
    )
    return [int(i) for i in rows.all() if i is not None]


async def prepare_people(
    sessionmaker: async_sessionmaker[AsyncSession],
    user_ids: Iterable[int],
    consultation_id: int,
    now: datetime,
) -> None:
    """People who consented and started the consultation: each is at its first question."""
    async with sessionmaker() as session, session.begin():
        for user_id in user_ids:
            person = await record_privacy_decision(
                session, user_id, user_id, granted=True, language="nb", now=now
            )
            await flow.start(session, person, consultation_id, source="bench", now=now)
