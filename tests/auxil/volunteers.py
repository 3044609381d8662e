"""Volunteer centres, volunteers and needs for tests and the matching benchmark.

Volunteers are inserted in bulk without the ORM: a participant who agreed to the privacy
notice, a yes to the volunteer text, a profile and its choices.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from models.centres import Centre, import_centres, parse_centre_file
from models.needs import Need, NeedState
from models.volunteers import VOLUNTEER, VOLUNTEER_NOTICE_VERSION
from tests.auxil.people import EARLIER, add_people

CENTRES = """
centres:
  - slug: holmen
    name: {nb: Holmen frivilligsentral, en: Holmen volunteer centre}
    district: Holmen
    contact: holmen@frivilligsentral.example, 40 00 00 01
    tags:
      - {id: transport, name: {nb: Transport, nn: Transport, en: Transport}}
      - {id: homework, name: {nb: Leksehjelp, nn: Leksehjelp, en: Homework help}}
      - {id: repair, name: {nb: Reparasjon, nn: Reparasjon, en: Repairs}}
      - {id: events, name: {nb: Arrangementer, nn: Arrangement, en: Events}}
  - slug: sentrum
    name: {nb: Sentrum frivilligsentral, en: Sentrum volunteer centre}
    district: Sentrum
    tags:
      - {id: language-cafe, name: {nb: Språkkafé, nn: Språkkafé, en: Language café}}
      - {id: transport, name: {nb: Transport, en: Transport}}
"""


@dataclass
class Profile:
    """What a bulk volunteer chose."""

    tags: Sequence[str] = ("transport",)
    districts: Sequence[str] = ("Holmen",)
    slots: Sequence[str] = ("daytime", "evening", "weekend")
    languages: Sequence[str] = ("no",)
    extra: dict[str, Sequence[str]] = field(default_factory=dict)

    def choices(self) -> Iterable[tuple[str, str]]:
        """Every (kind, value) pair."""
        for kind, values in (
            ("tag", self.tags),
            ("district", self.districts),
            ("slot", self.slots),
            ("language", self.languages),
        ):
            for value in values:
                yield kind, value


async def add_centres(session: AsyncSession, now: datetime) -> dict[str, Centre]:
    """The two example centres of :data:`CENTRES`, by slug (flushed, not committed)."""
    stored = await import_centres(session, parse_centre_file(CENTRES), now)
    return {centre.slug: centre for centre, _new in stored}


async def add_volunteers(
    target: AsyncSession | AsyncConnection,
    user_ids: Sequence[int],
    profile: Profile | Sequence[Profile],
    *,
    language: str | None = "nb",
    volunteer_consent: bool = True,
) -> list[int]:
    """Participants with profiles: one ``profile`` for all, or one each; their participant ids."""
    connection = await target.connection() if isinstance(target, AsyncSession) else target
    people = await add_people(connection, user_ids, language=language)
    profiles = list(profile) if isinstance(profile, Sequence) else [profile] * len(people)
    tables = SQLModel.metadata.tables
    if volunteer_consent:
        await connection.execute(
            insert(tables["consent"]),
            [
                {
                    "participant_id": pid,
                    "kind": VOLUNTEER,
                    "version": VOLUNTEER_NOTICE_VERSION,
                    "granted": True,
                    "decided_at": EARLIER,
                }
                for pid in people
            ],
        )
    profile_table = tables["volunteer_profile"]
    await connection.execute(
        insert(profile_table),
        [{"participant_id": pid, "created_at": EARLIER, "updated_at": EARLIER} for pid in people],
    )
    rows = await connection.execute(
        select(profile_table.c.participant_id, profile_table.c.id).where(
            profile_table.c.participant_id.in_(people)
        )
    )
    profile_ids = dict(rows.all())
    choices = [
        {"profile_id": profile_ids[pid], "kind": kind, "value": value}
        for pid, chosen in zip(people, profiles, strict=True)
        for kind, value in chosen.choices()
    ]
    for start in range(0, len(choices), 5000):
        await connection.execute(insert(tables["volunteer_choice"]), choices[start : start + 5000])
    return people


def a_need(
    centre: Centre,
    starts_at: datetime,
    *,
    created_by: int = 9100,
    tags: Sequence[str] = ("transport",),
    places: int = 2,
    district: str | None = None,
    wished_language: str | None = None,
    weekly: bool = False,
) -> Need:
    """A complete draft need of the centre (not added to a session)."""
    return Need(
        centre_id=centre.id or 0,
        state=NeedState.DRAFT,
        created_by=created_by,
        chat_id=created_by,
        staff_language="en",
        title={"en": "Drive to the repair café", "nb": "Kjøring til reparasjonskafeen"},
        language="en",
        tags=list(tags),
        district=district or centre.district,
        starts_at=starts_at,
        weekly=weekly,
        places=places,
        wished_language=wished_language,
    )
