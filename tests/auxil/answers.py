"""A small, hand-built set of responses with known results, for the results and export tests.

The consultation is ``park`` from :mod:`tests.auxil.consultations` (every question type and a
branch). Five people answer it through the real answering rules:

=====  ===========  =========  ==============  =====  =====  ===================  ==========
who    source       use        activities      agree  trees  idea                 state
=====  ===========  =========  ==============  =====  =====  ===================  ==========
ada    poster       often      play, sport     4      yes    Benker og grill      completed
bo     poster       sometimes  play            5      no     (skipped)            completed
cai    (none)       never      (not asked)     2      yes    =HYPERLINK(...)      completed
dina   library      often      (stopped here)                                     incomplete
eli    (none)       never      (not asked)     4      (stopped here)              incomplete
=====  ===========  =========  ==============  =====  =====  ===================  ==========

A sixth person answers another consultation, so that nothing of it may leak into ``park``.
A moderator has approved both ideas (exports carry approved texts only, by default).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from models import moderation
from models import response as flow
from models.consultation import Consultation
from models.participant import Participant, get_or_create_participant
from tests.auxil.consultations import EVERY_TYPE, add_consultation

NOW = datetime(2027, 1, 15, 12, 0, tzinfo=UTC)
# Telegram ids long enough that finding one in an export cannot be a coincidence.
TELEGRAM_IDS = {
    "ada": 7_301_000_001,
    "bo": 7_301_000_002,
    "cai": 7_301_000_003,
    "dina": 7_301_000_004,
    "eli": 7_301_000_005,
    "fay": 7_301_000_006,
}
IDEA_ADA = "Benker og grill"
IDEA_CAI = '=HYPERLINK("http://example.invalid","klikk")'
MODERATOR_ID = 7_301_000_099


@dataclass
class Sample:
    """The consultations and the people of the sample."""

    park: Consultation
    other: Consultation
    people: dict[str, Participant]

    @property
    def park_id(self) -> int:
        """The id of the consultation the sample is about."""
        assert self.park.id is not None
        return self.park.id


def _option(position: flow.Position, key: str) -> int:
    assert position.question is not None
    option = next(o for o in position.question.options if o.key == key)
    assert option.id is not None
    return option.id


def _qid(position: flow.Position) -> int:
    assert position.question is not None
    return position.question.id


async def build_sample(session: AsyncSession) -> Sample:
    """Store the sample and commit it."""
    park = await add_consultation(session)
    other = await add_consultation(session, EVERY_TYPE.replace("slug: park", "slug: other"))
    people = {
        name: await get_or_create_participant(session, user_id, user_id)
        for name, user_id in TELEGRAM_IDS.items()
    }
    await session.commit()
    minute = timedelta(minutes=1)
    assert park.id is not None
    assert other.id is not None

    # Started one minute apart, in table order, so timestamps and row order are known.
    ada, bo, cai, dina, eli, fay = (people[n] for n in TELEGRAM_IDS)
    now = NOW
    p = await flow.start(session, ada, park.id, source="poster", now=now)
    p = await flow.choose(session, ada, _qid(p), _option(p, "often"), now)
    await flow.toggle(session, ada, _qid(p), _option(p, "sport"), now)
    await flow.toggle(session, ada, _qid(p), _option(p, "play"), now)
    p = await flow.finish_choices(session, ada, _qid(p), now)
    p = await flow.rate(session, ada, _qid(p), 4, now)
    p = await flow.choose(session, ada, _qid(p), _option(p, "yes"), now)
    p = await flow.type_answer(session, ada, IDEA_ADA, now + minute / 2)
    assert p.at_summary

    now += minute
    p = await flow.start(session, bo, park.id, source="poster", now=now)
    p = await flow.choose(session, bo, _qid(p), _option(p, "sometimes"), now)
    await flow.toggle(session, bo, _qid(p), _option(p, "play"), now)
    p = await flow.finish_choices(session, bo, _qid(p), now)
    p = await flow.rate(session, bo, _qid(p), 5, now)
    p = await flow.choose(session, bo, _qid(p), _option(p, "no"), now)
    p = await flow.skip(session, bo, _qid(p), now)
    assert p.at_summary

    now += minute
    p = await flow.start(session, cai, park.id, source=None, now=now)
    p = await flow.choose(session, cai, _qid(p), _option(p, "never"), now)
    p = await flow.rate(session, cai, _qid(p), 2, now)
    p = await flow.type_answer(session, cai, "ja", now)
    p = await flow.type_answer(session, cai, IDEA_CAI, now)
    assert p.at_summary

    now += minute
    p = await flow.start(session, dina, park.id, source="library", now=now)
    p = await flow.choose(session, dina, _qid(p), _option(p, "often"), now)
    assert p.question is not None
    assert p.question.question.key == "activities"

    now += minute
    p = await flow.start(session, eli, park.id, source=None, now=now)
    p = await flow.choose(session, eli, _qid(p), _option(p, "never"), now)
    p = await flow.rate(session, eli, _qid(p), 4, now)
    assert p.question is not None
    assert p.question.question.key == "trees"

    p = await flow.start(session, fay, other.id, source="elsewhere", now=now)
    p = await flow.choose(session, fay, _qid(p), _option(p, "often"), now)
    await flow.toggle(session, fay, _qid(p), _option(p, "rest"), now)
    p = await flow.finish_choices(session, fay, _qid(p), now)
    await flow.rate(session, fay, _qid(p), 1, now)

    items = await session.exec(
        select(moderation.ModerationItem.id, moderation.ModerationItem.version)
    )
    for item_id, version in items.all():
        assert item_id is not None
        await moderation.decide(
            session, item_id, version, MODERATOR_ID, moderation.Status.APPROVED, now
        )

    await session.commit()
    return Sample(park, other, people)
