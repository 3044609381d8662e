"""Consultations, their questions and options, and the rules for publishing them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, ForeignKey, Integer, String, UniqueConstraint, func
from sqlalchemy import select as sa_select
from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.answers import Answer, Response
from models.base import Text, UTCDateTime, localized, table_of, utcnow
from models.consultation_file import ConsultationSpec, QuestionSpec, QuestionType
from models.roles import audit


class Status(StrEnum):
    """Where a consultation is in its life."""

    DRAFT = "draft"
    OPEN = "open"
    CLOSED = "closed"


class Consultation(SQLModel, table=True):
    """A consultation or opinion poll, as imported from its file."""

    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(sa_column=Column(String(40), unique=True, nullable=False))
    title: Text = Field(sa_column=Column(JSON, nullable=False))
    intro: Text | None = Field(default=None, sa_column=Column(JSON))
    languages: list[str] = Field(sa_column=Column(JSON, nullable=False))
    arena_slug: str | None = Field(default=None, max_length=40)
    status: str = Field(default=Status.DRAFT, sa_column=Column(String(16), nullable=False))
    # A one-question poll sent as a native Telegram poll instead of buttons.
    as_poll: bool = False
    # "open" (anyone) or "code" (a one-time code before the first question: models.access_codes).
    access: str = Field(
        default="open", sa_column=Column(String(8), nullable=False, server_default="open")
    )
    opens_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    closes_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # When staff closed it by hand (retention counts from the earlier of this and closes_at).
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Question(SQLModel, table=True):
    """One question of a consultation; ``key`` is its id in the file."""

    __table_args__ = (UniqueConstraint("consultation_id", "key"),)

    id: int | None = Field(default=None, primary_key=True)
    consultation_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("consultation.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    key: str = Field(max_length=32)
    position: int
    type: str = Field(sa_column=Column(String(16), nullable=False))
    text: Text = Field(sa_column=Column(JSON, nullable=False))
    required: bool = True
    max_choices: int | None = None
    scale_min: int | None = None
    scale_max: int | None = None
    min_label: Text | None = Field(default=None, sa_column=Column(JSON))
    max_label: Text | None = Field(default=None, sa_column=Column(JSON))
    max_length: int | None = None
    # {"question": key, "values": [...]}: shown only when that earlier answer is one of these.
    show_if: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))


class Option(SQLModel, table=True):
    """One choice of a choice question (yes/no questions get ``yes`` and ``no``)."""

    __table_args__ = (UniqueConstraint("question_id", "key"),)

    id: int | None = Field(default=None, primary_key=True)
    question_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("question.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    key: str = Field(max_length=32)
    position: int
    text: Text = Field(sa_column=Column(JSON, nullable=False))


@dataclass
class QuestionView:
    """A question with its options, in order."""

    question: Question
    options: list[Option]

    @property
    def id(self) -> int:
        """The question's database id."""
        assert self.question.id is not None
        return self.question.id

    @property
    def type(self) -> QuestionType:
        """The question's type."""
        return QuestionType(self.question.type)

    def option(self, option_id: int) -> Option | None:
        """Return this question's option with that id, or None for a forged one."""
        return next((o for o in self.options if o.id == option_id), None)


@dataclass
class ConsultationView:
    """A consultation with everything needed to run it, loaded in two queries."""

    consultation: Consultation
    questions: list[QuestionView] = field(default_factory=list)

    @property
    def id(self) -> int:
        """The consultation's database id."""
        assert self.consultation.id is not None
        return self.consultation.id

    def question(self, question_id: int) -> QuestionView | None:
        """Return the question with that id, or None when it belongs elsewhere."""
        return next((q for q in self.questions if q.id == question_id), None)

    def by_key(self, key: str) -> QuestionView | None:
        """Return the question with that file id."""
        return next((q for q in self.questions if q.question.key == key), None)

    def title(self, language: str) -> str:
        """The title in ``language``, with fallback."""
        return localized(self.consultation.title, language, self.consultation.languages[0])


def is_open(consultation: Consultation, now: datetime) -> bool:
    """Tell whether citizens can answer now: published, and inside its time window."""
    return (
        consultation.status == Status.OPEN
        and (consultation.opens_at is None or consultation.opens_at <= now)
        and (consultation.closes_at is None or now < consultation.closes_at)
    )


def opens_later(consultation: Consultation, now: datetime) -> bool:
    """Tell whether it is published but its opening time is still ahead."""
    return (
        consultation.status == Status.OPEN
        and consultation.opens_at is not None
        and now < consultation.opens_at
    )


class ImportRefused(ValueError):
    """An import that would change questions that already have answers."""

    def __init__(self, slug: str, keys: list[str]) -> None:
        super().__init__(
            f"{slug}: these questions already have answers and cannot be changed or removed: "
            f"{', '.join(keys)}"
        )
        self.keys = keys


async def find_consultation(session: AsyncSession, slug: str) -> Consultation | None:
    """Return the consultation with this slug."""
    return (await session.exec(select(Consultation).where(Consultation.slug == slug))).first()


async def load_consultation(
    session: AsyncSession, consultation_id: int
) -> ConsultationView | None:
    """Load a consultation with its questions and options."""
    consultation = await session.get(Consultation, consultation_id)
    if consultation is None:
        return None
    return ConsultationView(consultation, await _questions_of(session, consultation_id))


class ViewCache:
    """Consultations' questions and options, kept between updates while they stay the same.

    Answering reads the consultation row in every step (its status and dates decide whether it
    is open); its questions and options are read only when its ``updated_at`` stamp differs
    from the one they were read with. Everything that changes questions or options (an import,
    a translation) sets ``updated_at``, so a replica whose copy is stale sees a new stamp and
    reads them again. The copies belong to no session (read as plain rows): they are read,
    never written, and a session that loads the same questions for itself gets its own objects.
    """

    def __init__(self, size: int = 64) -> None:
        """Keep the questions of at most ``size`` consultations."""
        self.size = size
        self._views: dict[int, tuple[datetime, list[QuestionView]]] = {}
        self._consultation_of: dict[int, int] = {}  # question id -> consultation id

    def consultation_of(self, question_id: int) -> int | None:
        """The consultation a question belongs to, if it is known here."""
        return self._consultation_of.get(question_id)

    async def view(self, session: AsyncSession, consultation: Consultation) -> ConsultationView:
        """The consultation (the row given, fresh) with its questions, read again if changed."""
        cid = consultation.id or 0
        kept = self._views.get(cid)
        if kept is None or kept[0] != consultation.updated_at:
            questions = await _detached_questions_of(session, cid)
            if len(self._views) >= self.size:
                self.clear()
            kept = (consultation.updated_at, questions)
            self._views[cid] = kept
            self._consultation_of.update({q.id: cid for q in questions})
        return ConsultationView(consultation, kept[1])

    def clear(self) -> None:
        """Forget everything (tests; a full cache)."""
        self._views.clear()
        self._consultation_of.clear()


#: The process's cache of consultations' questions for the answering flow.
VIEWS = ViewCache()


async def _detached_questions_of(
    session: AsyncSession, consultation_id: int
) -> list[QuestionView]:
    """A consultation's questions and options as objects of no session (two queries)."""
    questions = table_of(Question)
    options = table_of(Option)
    # Core rows on the session's connection: nothing enters the session's identity map.
    connection = await session.connection()
    question_rows = await connection.execute(
        sa_select(questions)
        .where(questions.c.consultation_id == consultation_id)
        .order_by(questions.c.position)
    )
    option_rows = await connection.execute(
        sa_select(options)
        .join(questions, questions.c.id == options.c.question_id)
        .where(questions.c.consultation_id == consultation_id)
        .order_by(options.c.question_id, options.c.position)
    )
    by_question: dict[int, list[Option]] = {}
    for row in option_rows:
        option = Option.model_validate(dict(row._mapping))
        by_question.setdefault(option.question_id, []).append(option)
    return [
        QuestionView(question, by_question.get(question.id or 0, []))
        for question in (Question.model_validate(dict(row._mapping)) for row in question_rows)
    ]


async def _questions_of(session: AsyncSession, consultation_id: int) -> list[QuestionView]:
    """A consultation's questions with their options, in order (two queries)."""
    questions = (
        await session.exec(
            select(Question)
            .where(Question.consultation_id == consultation_id)
            .order_by(col(Question.position))
        )
    ).all()
    options = (
        await session.exec(
            select(Option)
            .join(Question, col(Question.id) == col(Option.question_id))
            .where(Question.consultation_id == consultation_id)
            .order_by(col(Option.question_id), col(Option.position))
        )
    ).all()
    by_question: dict[int, list[Option]] = {}
    for option in options:
        by_question.setdefault(option.question_id, []).append(option)
    return [QuestionView(q, by_question.get(q.id or 0, [])) for q in questions]


async def open_consultations(session: AsyncSession, now: datetime) -> list[Consultation]:
    """Return the consultations citizens can answer now, newest first."""
    candidates = (
        await session.exec(
            select(Consultation)
            .where(Consultation.status == Status.OPEN)
            .order_by(col(Consultation.created_at).desc(), col(Consultation.id).desc())
        )
    ).all()
    return [c for c in candidates if is_open(c, now)]


async def list_consultations(session: AsyncSession) -> list[tuple[Consultation, int, int]]:
    """Return every consultation with its count of responses and of completed ones."""
    rows = (
        await session.exec(
            select(
                Consultation,
                func.count(col(Response.id)),
                func.count(col(Response.completed_at)),
            )
            .outerjoin(Response, col(Response.consultation_id) == col(Consultation.id))
            .group_by(col(Consultation.id))
            .order_by(col(Consultation.created_at), col(Consultation.id))
        )
    ).all()
    return [(c, int(n), int(done)) for c, n, done in rows]


async def response_counts(session: AsyncSession, consultation_id: int) -> tuple[int, int]:
    """Return how many people started the consultation and how many completed it."""
    started, completed = (
        await session.exec(
            select(func.count(col(Response.id)), func.count(col(Response.completed_at))).where(
                Response.consultation_id == consultation_id
            )
        )
    ).one()
    return int(started), int(completed)


async def answered_question_ids(session: AsyncSession, consultation_id: int) -> set[int]:
    """Return the ids of the consultation's questions that have at least one real answer."""
    rows = await session.exec(
        select(Answer.question_id)
        .join(Question, col(Question.id) == col(Answer.question_id))
        .where(Question.consultation_id == consultation_id, col(Answer.skipped).is_(False))
        .distinct()
    )
    return set(rows.all())


def _question_fields(spec: QuestionSpec) -> dict[str, Any]:
    return {
        "key": spec.key,
        "type": spec.type.value,
        "text": dict(spec.text),
        "required": spec.required,
        "max_choices": spec.max_choices,
        "scale_min": spec.scale_min,
        "scale_max": spec.scale_max,
        "min_label": dict(spec.min_label) if spec.min_label else None,
        "max_label": dict(spec.max_label) if spec.max_label else None,
        "max_length": spec.max_length,
        "show_if": (
            {"question": spec.show_if.question, "values": list(spec.show_if.values)}
            if spec.show_if
            else None
        ),
    }


def _stored_fields(view: QuestionView) -> dict[str, Any]:
    q = view.question
    return {
        "key": q.key,
        "type": q.type,
        "text": q.text,
        "required": q.required,
        "max_choices": q.max_choices,
        "scale_min": q.scale_min,
        "scale_max": q.scale_max,
        "min_label": q.min_label,
        "max_label": q.max_label,
        "max_length": q.max_length,
        "show_if": q.show_if,
    }


def _same_question(view: QuestionView, spec: QuestionSpec) -> bool:
    return _stored_fields(view) == _question_fields(spec) and [
        (o.key, o.text) for o in view.options
    ] == [(o.key, dict(o.text)) for o in spec.options]


async def import_consultation(
    session: AsyncSession, spec: ConsultationSpec, *, publish: bool = False
) -> tuple[Consultation, bool]:
    """Store a validated consultation file; return it and whether it was new.

    Re-importing a slug replaces its content. Once a question has answers it is locked: the
    import is refused if it would change or remove that question, so results never mix
    answers to two different questions.
    """
    consultation = await find_consultation(session, spec.slug)
    view: ConsultationView | None = None
    locked: set[int] = set()
    if consultation is None:
        consultation = Consultation(slug=spec.slug, title={}, languages=[])
        session.add(consultation)
    else:
        view = await load_consultation(session, consultation.id or 0)
        assert view is not None
        locked = await answered_question_ids(session, view.id)
        specs = {q.key: q for q in spec.questions}
        changed = [
            q.question.key
            for q in view.questions
            if q.id in locked
            and (q.question.key not in specs or not _same_question(q, specs[q.question.key]))
        ]
        if changed:
            raise ImportRefused(spec.slug, changed)
    _take_fields(consultation, spec)
    if publish:
        consultation.status = Status.OPEN
    await session.flush()
    await _store_questions(session, consultation.id or 0, view, spec, locked)
    return consultation, view is None


def _take_fields(consultation: Consultation, spec: ConsultationSpec) -> None:
    """Copy the file's top-level fields onto the stored consultation."""
    consultation.title = dict(spec.title)
    consultation.intro = dict(spec.intro) if spec.intro else None
    consultation.languages = list(spec.languages)
    consultation.arena_slug = spec.arena
    consultation.access = spec.access
    consultation.opens_at = spec.opens
    consultation.closes_at = spec.closes
    consultation.updated_at = utcnow()


async def _store_questions(
    session: AsyncSession,
    consultation_id: int,
    view: ConsultationView | None,
    spec: ConsultationSpec,
    locked: set[int],
) -> None:
    """Replace the questions, keeping the locked ones (answers point at their ids)."""
    kept: dict[str, QuestionView] = {}
    for old in view.questions if view else []:
        if old.id in locked:
            kept[old.question.key] = old
        else:
            # Delete through the session, not only by cascade: the loaded rows must leave the
            # identity map, or new rows that reuse their ids would clash with them.
            for option in old.options:
                await session.delete(option)
            await session.delete(old.question)
    await session.flush()
    for position, question_spec in enumerate(spec.questions):
        if question_spec.key in kept:
            kept[question_spec.key].question.position = position
            continue
        question = Question(
            consultation_id=consultation_id, position=position, **_question_fields(question_spec)
        )
        session.add(question)
        await session.flush()
        session.add_all(
            Option(question_id=question.id or 0, key=o.key, position=i, text=dict(o.text))
            for i, o in enumerate(question_spec.options)
        )
    await session.flush()


def change_status(consultation: Consultation, status: Status, now: datetime) -> None:
    """Open or close a consultation, remembering when it was closed."""
    consultation.status = status
    consultation.closed_at = now if status == Status.CLOSED else None
    consultation.updated_at = now


async def set_status(
    session: AsyncSession, slug: str, status: Status, now: datetime | None = None
) -> Consultation | None:
    """Open or close a consultation by slug; None when the slug is unknown."""
    consultation = await find_consultation(session, slug)
    if consultation is not None:
        change_status(consultation, status, now or utcnow())
        await session.flush()
    return consultation


async def change_status_for(
    session: AsyncSession, consultation: Consultation, status: Status, actor: int, now: datetime
) -> None:
    """Open or close a consultation for a staff member (chat or dashboard); audited."""
    change_status(consultation, status, now)
    await session.flush()
    await audit(session, actor, f"consultation.{consultation.status}", consultation.slug, now=now)


class ScheduleProblem(ValueError):
    """A time window that cannot be used; ``code`` says why."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


async def schedule(
    session: AsyncSession,
    consultation: Consultation,
    opens: datetime | None,
    closes: datetime | None,
    actor: int,
    now: datetime,
) -> None:
    """Publish a consultation for a time window: it opens and closes by itself; audited.

    Raises:
        ScheduleProblem: ``closes_before_opens``, or ``closes_in_past``; nothing is changed.
    """
    if opens is not None and closes is not None and closes <= opens:
        raise ScheduleProblem("closes_before_opens")
    if closes is not None and closes <= now:
        raise ScheduleProblem("closes_in_past")
    consultation.opens_at, consultation.closes_at = opens, closes
    change_status(consultation, Status.OPEN, now)
    await session.flush()
    detail = {
        "opens": opens.isoformat() if opens else None,
        "closes": closes.isoformat() if closes else None,
    }
    await audit(session, actor, "consultation.schedule", consultation.slug, detail, now=now)
