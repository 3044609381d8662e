"""Background questions: a few optional bands (age, district, …) to compare with the population.

An installation defines at most four single-choice questions (:mod:`models.profile_file`,
``medvirk profile import FILE``). A resident is offered them once, after a consultation they
finished; every question can be answered "prefer not to say" (stored as an answer without an
option), none is required, and the answers are theirs to see (``/mydata``), change and erase
(``/privacy``, ``/delete``). They are only ever shown to staff as counts of bands
(:mod:`models.representation`), never to moderators.

Answers link to the participant with ``ON DELETE CASCADE``, so erasing a person erases them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import JSON, Column, ForeignKey, Integer, String, UniqueConstraint, delete, func
from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.base import Text, UTCDateTime, localized, utcnow
from models.profile_file import ProfileQuestionSpec


class ProfileQuestion(SQLModel, table=True):
    """A background question; ``key`` is its id in the profile file and population files."""

    __tablename__ = "profile_question"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(sa_column=Column(String(32), unique=True, nullable=False))
    position: int
    # The short name staff see ("Alder"); the question residents are asked.
    label: Text = Field(sa_column=Column(JSON, nullable=False))
    text: Text = Field(sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ProfileOption(SQLModel, table=True):
    """One band of a background question ("18-29 år", "Sentrum")."""

    __tablename__ = "profile_option"
    __table_args__ = (UniqueConstraint("question_id", "key"),)

    id: int | None = Field(default=None, primary_key=True)
    question_id: int = Field(
        sa_column=Column(
            Integer,
            ForeignKey("profile_question.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        )
    )
    key: str = Field(max_length=32)
    position: int
    text: Text = Field(sa_column=Column(JSON, nullable=False))


class ProfileAnswer(SQLModel, table=True):
    """A resident's band for one question; no option: "prefer not to say"."""

    __tablename__ = "profile_answer"
    __table_args__ = (UniqueConstraint("participant_id", "question_id"),)

    id: int | None = Field(default=None, primary_key=True)
    participant_id: int = Field(
        sa_column=Column(Integer, ForeignKey("participant.id", ondelete="CASCADE"), nullable=False)
    )
    question_id: int = Field(
        sa_column=Column(
            Integer,
            ForeignKey("profile_question.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        )
    )
    option_id: int | None = Field(
        default=None,
        sa_column=Column(
            Integer, ForeignKey("profile_option.id", ondelete="CASCADE"), nullable=True, index=True
        ),
    )
    answered_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ProfilePrompt(SQLModel, table=True):
    """That the background questions were offered to the person (once), and a "no thanks"."""

    __tablename__ = "profile_prompt"

    participant_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("participant.id", ondelete="CASCADE"), primary_key=True
        )
    )
    offered_at: datetime = Field(sa_type=UTCDateTime)
    declined_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


@dataclass
class BackgroundQuestion:
    """A background question with its bands, in order."""

    question: ProfileQuestion
    options: list[ProfileOption] = field(default_factory=list)

    @property
    def id(self) -> int:
        """The question's database id."""
        assert self.question.id is not None
        return self.question.id

    @property
    def key(self) -> str:
        """The question's id in the files."""
        return self.question.key

    def option(self, option_id: int) -> ProfileOption | None:
        """This question's band with that id; None for one of another question or a forged id."""
        return next((o for o in self.options if o.id == option_id), None)

    def by_key(self, key: str) -> ProfileOption | None:
        """This question's band with that file id."""
        return next((o for o in self.options if o.key == key), None)

    def label_in(self, language: str) -> str:
        """The short name staff see, in ``language``."""
        return localized(self.question.label, language, next(iter(self.question.label), ""))

    def text_in(self, language: str) -> str:
        """The question residents are asked, in ``language``."""
        return localized(self.question.text, language, next(iter(self.question.text), ""))


def band_text(option: ProfileOption, language: str) -> str:
    """A band's text in ``language`` (else any it has; else its id)."""
    return localized(option.text, language, next(iter(option.text), "")) or option.key


class UnknownBackground(LookupError):
    """A background question or band that does not exist (a stale or forged button)."""


class ProfileImportRefused(ValueError):
    """An import would delete answered questions or bands; ``problems`` names each."""

    def __init__(self, problems: list[str]) -> None:
        """Keep the problems; the message lists them."""
        self.problems = list(problems)
        super().__init__("; ".join(problems))


# ---------------------------------------------------------------------- reading


async def background_questions(session: AsyncSession) -> list[BackgroundQuestion]:
    """Every background question with its bands, in order (two queries)."""
    questions = (
        await session.exec(select(ProfileQuestion).order_by(col(ProfileQuestion.position)))
    ).all()
    if not questions:
        return []
    options = (
        await session.exec(
            select(ProfileOption).order_by(
                col(ProfileOption.question_id), col(ProfileOption.position)
            )
        )
    ).all()
    by_question: dict[int, list[ProfileOption]] = {}
    for option in options:
        by_question.setdefault(option.question_id, []).append(option)
    return [BackgroundQuestion(q, by_question.get(q.id or 0, [])) for q in questions]


async def has_background_questions(session: AsyncSession) -> bool:
    """Whether the installation has background questions at all."""
    return (await session.exec(select(ProfileQuestion.id).limit(1))).first() is not None


async def answers_of(session: AsyncSession, participant_id: int) -> dict[int, int | None]:
    """The person's answers: question id to band id (None: "prefer not to say")."""
    rows = await session.exec(
        select(ProfileAnswer.question_id, ProfileAnswer.option_id).where(
            ProfileAnswer.participant_id == participant_id
        )
    )
    return {question_id: option_id for question_id, option_id in rows.all()}


async def readable_background(
    session: AsyncSession, participant_id: int, language: str
) -> list[dict[str, str | None]]:
    """The person's background answers with their questions, in ``language`` (for /mydata).

    A "prefer not to say" answer has no band (None).
    """
    given = await answers_of(session, participant_id)
    readable = []
    for question in await background_questions(session):
        if question.id not in given:
            continue
        chosen = given[question.id]
        option = question.option(chosen) if chosen is not None else None
        readable.append(
            {
                "question": question.text_in(language),
                "answer": band_text(option, language) if option is not None else None,
            }
        )
    return readable


async def band_names(session: AsyncSession, option_ids: list[int], language: str) -> list[str]:
    """The bands with these ids in words ("Bydel: Nord"), in the order of the questions."""
    wanted = set(option_ids)
    return [
        f"{question.label_in(language)}: {band_text(option, language)}"
        for question in await background_questions(session)
        for option in question.options
        if option.id in wanted
    ]


# ---------------------------------------------------------------------- the offer and answers


async def should_offer(session: AsyncSession, participant_id: int) -> bool:
    """Whether to offer the background questions now: there are some, never offered before."""
    if not await has_background_questions(session):
        return False
    return await session.get(ProfilePrompt, participant_id) is None


async def mark_offered(session: AsyncSession, participant_id: int, now: datetime) -> None:
    """Note that the questions were offered, so they are offered only once."""
    if await session.get(ProfilePrompt, participant_id) is None:
        session.add(ProfilePrompt(participant_id=participant_id, offered_at=now))
        await session.flush()


async def decline(session: AsyncSession, participant_id: int, now: datetime) -> None:
    """Note a "no thanks" to the offer (the offer is not made again)."""
    prompt = await session.get(ProfilePrompt, participant_id)
    if prompt is None:
        prompt = ProfilePrompt(participant_id=participant_id, offered_at=now)
        session.add(prompt)
    prompt.declined_at = now
    await session.flush()


async def answer_background(
    session: AsyncSession,
    participant_id: int,
    question_id: int,
    option_id: int | None,
    now: datetime,
) -> BackgroundQuestion | None:
    """Store the person's band for a question (None: "prefer not to say"); the next question.

    Answering again replaces the answer. Returns the question that follows this one, or None
    after the last.

    Raises:
        UnknownBackground: the question is gone, or the band is not one of its bands.
    """
    questions = await background_questions(session)
    index = next((i for i, q in enumerate(questions) if q.id == question_id), None)
    if index is None:
        raise UnknownBackground(question_id)
    if option_id is not None and questions[index].option(option_id) is None:
        raise UnknownBackground(option_id)
    await _store(session, participant_id, question_id, option_id, now)
    prompt = await session.get(ProfilePrompt, participant_id)
    if prompt is None:
        session.add(ProfilePrompt(participant_id=participant_id, offered_at=now))
    elif prompt.declined_at is not None:
        prompt.declined_at = None  # they changed their mind
    await session.flush()
    return questions[index + 1] if index + 1 < len(questions) else None


async def _store(
    session: AsyncSession,
    participant_id: int,
    question_id: int,
    option_id: int | None,
    now: datetime,
) -> None:
    """Write the answer, replacing the person's earlier one to the question."""
    stored = (
        await session.exec(
            select(ProfileAnswer).where(
                ProfileAnswer.participant_id == participant_id,
                ProfileAnswer.question_id == question_id,
            )
        )
    ).first()
    if stored is None:
        stored = ProfileAnswer(participant_id=participant_id, question_id=question_id)
        session.add(stored)
    stored.option_id = option_id
    stored.answered_at = now


async def erase_background(session: AsyncSession, participant_id: int) -> int:
    """Delete the person's background answers (the rest of their data stays); how many."""
    result = await session.exec(
        delete(ProfileAnswer).where(col(ProfileAnswer.participant_id) == participant_id)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


# ---------------------------------------------------------------------- importing the file


@dataclass(frozen=True)
class ProfileImport:
    """What an import did: question ids added, changed and removed."""

    added: list[str]
    updated: list[str]
    removed: list[str]


async def _answer_counts(session: AsyncSession) -> tuple[dict[int, int], dict[int, int]]:
    """How many answers each question and each band has."""
    by_question = await session.exec(
        select(ProfileAnswer.question_id, func.count()).group_by(col(ProfileAnswer.question_id))
    )
    by_option = await session.exec(
        select(ProfileAnswer.option_id, func.count())
        .where(col(ProfileAnswer.option_id).is_not(None))
        .group_by(col(ProfileAnswer.option_id))
    )
    return (
        {int(q): int(n) for q, n in by_question.all()},
        {int(o or 0): int(n) for o, n in by_option.all()},
    )


async def _removals(
    session: AsyncSession,
    stored: list[BackgroundQuestion],
    specs: list[ProfileQuestionSpec],
    remove_answered: bool,
) -> list[str]:
    """What the import would delete that has answers (refused unless ``remove_answered``)."""
    if remove_answered:
        return []
    per_question, per_option = await _answer_counts(session)
    wanted = {spec.key: {o.key for o in spec.options} for spec in specs}
    problems = []
    for question in stored:
        if question.key not in wanted:
            if per_question.get(question.id):
                problems.append(
                    f"questions: '{question.key}' has {per_question[question.id]} answers and "
                    "is not in the file"
                )
            continue
        for option in question.options:
            if option.key not in wanted[question.key] and per_option.get(option.id or 0):
                problems.append(
                    f"questions.{question.key}: the band '{option.key}' has "
                    f"{per_option[option.id or 0]} answers and is not in the file"
                )
    return problems


async def import_profile(
    session: AsyncSession, specs: list[ProfileQuestionSpec], *, remove_answered: bool = False
) -> ProfileImport:
    """Store the background questions of a checked file, replacing the ones there were.

    Questions and bands are matched by their ids: texts change, answers stay. A question or band
    left out of the file is deleted; when it has answers the import is refused, unless
    ``remove_answered`` (then its answers are deleted with it).

    Raises:
        ProfileImportRefused: the file leaves out questions or bands that have answers.
    """
    stored = await background_questions(session)
    problems = await _removals(session, stored, specs, remove_answered)
    if problems:
        raise ProfileImportRefused(problems)
    by_key = {q.key: q for q in stored}
    wanted = {spec.key for spec in specs}
    removed = [q.key for q in stored if q.key not in wanted]
    for question in stored:
        if question.key not in wanted:
            await session.delete(question.question)
    result = ProfileImport(added=[], updated=[], removed=removed)
    for position, spec in enumerate(specs):
        found = by_key.get(spec.key)
        if found is None:
            row = ProfileQuestion(key=spec.key, position=position, label={}, text={})
            session.add(row)
            await session.flush()
            found = BackgroundQuestion(row, [])
            result.added.append(spec.key)
        else:
            result.updated.append(spec.key)
        await _store_question(session, found, spec, position)
    await session.flush()
    return result


async def _store_question(
    session: AsyncSession, stored: BackgroundQuestion, spec: ProfileQuestionSpec, position: int
) -> None:
    """Write one question's texts and bands: bands matched by id, the others deleted."""
    stored.question.position = position
    stored.question.label = dict(spec.label)
    stored.question.text = dict(spec.text)
    wanted = {o.key for o in spec.options}
    for option in stored.options:
        if option.key not in wanted:
            await session.delete(option)
    for index, option_spec in enumerate(spec.options):
        found = stored.by_key(option_spec.key)
        if found is None:
            found = ProfileOption(
                question_id=stored.id, key=option_spec.key, position=index, text={}
            )
            session.add(found)
        option = found
        option.position = index
        option.text = dict(option_spec.text)
