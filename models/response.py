"""Answering a consultation: where a person stands in it, and recording what they said.

Every step of the conversation is a row (the tables are in :mod:`models.answers`), so a restarted
bot, or another replica, picks up exactly where the person left off. One answer per response and
question is enforced by a unique constraint: a duplicated update replaces, it cannot
double-count. A new or changed free text is queued for moderation in the same transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, delete, insert, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

# Response, Answer and AnswerChoice are defined with the other tables in models.answers (the
# consultation's rules and moderation read them too); handlers and tests import them from here.
from models.access_codes import Access, forget_prompt
from models.answers import Answer, AnswerChoice, Response
from models.consultation import (
    VIEWS,
    Consultation,
    ConsultationView,
    Question,
    QuestionView,
    Status,
    is_open,
    opens_later,
)
from models.consultation_file import QuestionType
from models.moderation import text_changed
from models.participant import Participant
from models.translation import complete_languages

YES_WORDS = frozenset({"ja", "j", "jo", "yes", "y"})
NO_WORDS = frozenset({"nei", "n", "no"})


@dataclass
class AnswerValue:
    """What a stored answer holds, ready to show."""

    skipped: bool = False
    option_ids: list[int] = field(default_factory=list)
    number: int | None = None
    text: str | None = None
    answer_id: int | None = None  # the stored row, when there is one


@dataclass
class Position:
    """Where a person stands after an action: the question to show, or the summary."""

    view: ConsultationView
    response: Response
    answers: dict[int, AnswerValue]
    question: QuestionView | None
    just_completed: bool = False

    @property
    def at_summary(self) -> bool:
        """True when every question is behind the person."""
        return self.question is None

    def visible_questions(self) -> list[QuestionView]:
        """The questions this person is asked, given their answers so far."""
        return visible_questions(self.view, self.answers)

    def progress(self) -> tuple[int, int]:
        """The current question's number and the count of questions, as in "2/5"."""
        visible = self.visible_questions()
        if self.question is None:
            return len(visible), len(visible)
        ids = [q.id for q in visible]
        return ids.index(self.question.id) + 1, len(ids)

    def is_first(self) -> bool:
        """True on the first question (no way back)."""
        visible = self.visible_questions()
        return bool(visible) and self.question is not None and visible[0].id == self.question.id


class Problem(StrEnum):
    """Why an answer was not taken."""

    TOO_LONG = "too_long"
    EMPTY = "empty"
    OUT_OF_RANGE = "out_of_range"
    TOO_MANY = "too_many"
    REQUIRED = "required"
    USE_BUTTONS = "use_buttons"


class FlowError(Exception):
    """An action that cannot be taken; the person is told why and nothing changes."""


class UnknownQuestion(FlowError):
    """A question or option id that does not exist or does not belong together (forged)."""


class ConsultationNotOpen(FlowError):
    """The consultation is not (or no longer) open."""


class NotOpenYet(ConsultationNotOpen):
    """The consultation has not opened yet: ``opens_at`` says when, if it is known.

    None for one that is not published at all (a draft), which may never open.
    """

    def __init__(self, consultation: Consultation, opens_at: datetime | None) -> None:
        super().__init__("not open yet")
        self.consultation = consultation
        self.opens_at = opens_at


class CodeRequired(FlowError):
    """A closed consultation asks for a one-time code before its first question.

    ``language`` is the consultation's language the person will answer in (kept with the
    prompt, so the code leads straight to the questions in it).
    """

    def __init__(self, consultation_id: int, language: str) -> None:
        super().__init__("code required")
        self.consultation_id = consultation_id
        self.language = language


class ChooseLanguage(FlowError):
    """The consultation is not in the person's language: they choose one of ``languages``.

    Nothing is stored: the choice comes back as ``choice`` to :func:`start`.
    """

    def __init__(
        self, consultation: Consultation, languages: list[str], source: str | None
    ) -> None:
        super().__init__("choose a language")
        self.consultation = consultation
        self.languages = languages
        self.source = source


class NotInConsultation(FlowError):
    """Typed input with no question waiting for it."""


class InAnotherConsultation(FlowError):
    """A button of another consultation while the person is in the middle of this one."""

    def __init__(self, position: Position) -> None:
        super().__init__("in another consultation")
        self.position = position


class StaleQuestion(FlowError):
    """A button of a question the person is no longer on."""

    def __init__(self, position: Position) -> None:
        super().__init__("stale question")
        self.position = position


class AnswerRejected(FlowError):
    """An answer that breaks the question's rules."""

    def __init__(self, problem: Problem, position: Position, limit: int | None = None) -> None:
        super().__init__(problem.value)
        self.problem = problem
        self.position = position
        self.limit = limit


def is_visible(
    question: QuestionView, view: ConsultationView, answers: dict[int, AnswerValue]
) -> bool:
    """Tell whether ``show_if`` lets this question be asked, given the answers so far."""
    rule = question.question.show_if
    if not rule:
        return True
    source = view.by_key(rule["question"])
    if source is None:
        return False
    answer = answers.get(source.id)
    if answer is None:
        # Not answered yet: count it, so progress reads "1/5" from the start. Navigation never
        # reaches it undecided, because show_if may only point at an earlier question.
        return True
    if answer.skipped:
        return False
    wanted = {str(v) for v in rule["values"]}
    if answer.number is not None:
        return str(answer.number) in wanted
    keys = {o.key for o in source.options if o.id in answer.option_ids}
    return bool(keys & wanted)


def visible_questions(
    view: ConsultationView, answers: dict[int, AnswerValue]
) -> list[QuestionView]:
    """The questions asked, in order, given the answers so far."""
    return [q for q in view.questions if is_visible(q, view, answers)]


async def find_response(
    session: AsyncSession, participant: Participant, consultation_id: int
) -> Response | None:
    """Return the person's response to that consultation, if they started it."""
    return (
        await session.exec(
            select(Response).where(
                Response.participant_id == participant.id,
                Response.consultation_id == consultation_id,
            )
        )
    ).first()


async def responses_by_consultation(
    session: AsyncSession, participant: Participant
) -> dict[int, Response]:
    """Return the person's responses keyed by consultation id."""
    rows = await session.exec(select(Response).where(Response.participant_id == participant.id))
    return {r.consultation_id: r for r in rows.all()}


_ANSWER_COLUMNS = (
    col(Answer.id),
    col(Answer.question_id),
    col(Answer.skipped),
    col(Answer.number),
    col(Answer.text),
    col(AnswerChoice.option_id),
)


def _collect_answers(rows: Iterable[Sequence[Any]]) -> dict[int, AnswerValue]:
    """Answers by question from rows of (id, question, skipped, number, text, option)."""
    values: dict[int, AnswerValue] = {}
    for answer_id, question_id, skipped, number, text, option_id in rows:
        if answer_id is None:
            continue  # a response without answers (an outer join's empty row)
        value = values.get(question_id)
        if value is None:
            value = values[question_id] = AnswerValue(
                skipped=skipped, number=number, text=text, answer_id=answer_id
            )
        if option_id is not None:
            value.option_ids.append(option_id)
    return values


async def _load_answers(session: AsyncSession, response_id: int) -> dict[int, AnswerValue]:
    """A response's answers by question, with their ticked options (one query)."""
    rows = await session.exec(
        select(*_ANSWER_COLUMNS)  # type: ignore[call-overload]
        .outerjoin(AnswerChoice, col(AnswerChoice.answer_id) == col(Answer.id))
        .where(Answer.response_id == response_id)
        .order_by(col(Answer.id), col(AnswerChoice.option_id))
    )
    return _collect_answers(rows.all())


@dataclass
class _Loaded:
    """A response with its consultation and its answers, read in one query."""

    response: Response
    view: ConsultationView
    answers: dict[int, AnswerValue]


async def _with_consultation(
    session: AsyncSession, *conditions: ColumnElement[bool]
) -> _Loaded | None:
    """A response, its consultation and its answers in one query (questions from VIEWS).

    One row per answer and ticked option (the response and consultation repeat, and are one
    object each in the session), or one row with no answer.
    """
    rows = (
        await session.exec(
            select(Response, Consultation, *_ANSWER_COLUMNS)  # type: ignore[call-overload]
            .join(Consultation, col(Consultation.id) == col(Response.consultation_id))
            .outerjoin(Answer, col(Answer.response_id) == col(Response.id))
            .outerjoin(AnswerChoice, col(AnswerChoice.answer_id) == col(Answer.id))
            .where(*conditions)
            .order_by(col(Answer.id), col(AnswerChoice.option_id))
        )
    ).all()
    if not rows:
        return None
    response, consultation = rows[0][0], rows[0][1]
    answers = _collect_answers(row[2:] for row in rows)
    return _Loaded(response, await VIEWS.view(session, consultation), answers)


async def _position(
    session: AsyncSession, view: ConsultationView, response: Response, *, completed: bool = False
) -> Position:
    answers = await _load_answers(session, response.id or 0)
    return _at(view, response, answers, completed=completed)


def _at(
    view: ConsultationView,
    response: Response,
    answers: dict[int, AnswerValue],
    *,
    completed: bool = False,
) -> Position:
    question = (
        view.question(response.current_question_id) if response.current_question_id else None
    )
    return Position(view, response, answers, question, just_completed=completed)


async def start(
    session: AsyncSession,
    participant: Participant,
    consultation_id: int,
    *,
    source: str | None,
    now: datetime,
    reader: str | None = None,
    choice: str | None = None,
    admitted: bool = False,
) -> Position:
    """Begin a consultation, or resume it where the person left off.

    A new response is answered in ``choice`` (a language the person picked) or else in
    ``reader`` (the language they read Medvirk in; their stored one when not given, and for
    someone with none, as in scripts, the consultation's first) when the consultation has it;
    otherwise :class:`ChooseLanguage` is raised and nothing is stored. A resumed response keeps
    its language.

    A closed consultation (``access: code``) is begun only when ``admitted`` (a one-time code
    was used); otherwise :class:`CodeRequired` is raised. Resuming needs no code again.
    """
    consultation = await _open_to_answer(session, consultation_id, now)
    view = await VIEWS.view(session, consultation)
    response = await find_response(session, participant, consultation_id)
    if response is None:
        reader = reader or participant.language or consultation.languages[0]
        language = answering_language(view, reader, choice, source)
        if view.consultation.access == Access.CODE and not admitted:
            raise CodeRequired(consultation_id, language)
        response = _new_response(view, participant, source, language, now)
        session.add(response)
        await session.flush()
    elif response.language is None:
        reader = reader or participant.language or consultation.languages[0]
        response.language = answering_language(view, reader, choice, source)
    participant.active_response_id = response.id
    await forget_prompt(session, participant)
    await session.flush()
    return await _position(session, view, response)


async def _open_to_answer(
    session: AsyncSession, consultation_id: int, now: datetime
) -> Consultation:
    """The consultation, if it takes answers now; otherwise why not, as an error."""
    consultation = await session.get(Consultation, consultation_id)
    if consultation is None:
        raise UnknownQuestion("no such consultation")
    if opens_later(consultation, now):
        raise NotOpenYet(consultation, consultation.opens_at)
    if consultation.status == Status.DRAFT:
        raise NotOpenYet(consultation, None)
    if not is_open(consultation, now):
        raise ConsultationNotOpen
    return consultation


def _new_response(
    view: ConsultationView,
    participant: Participant,
    source: str | None,
    language: str,
    now: datetime,
) -> Response:
    """A response at the consultation's first visible question, in ``language``."""
    visible = visible_questions(view, {})
    return Response(
        participant_id=participant.id or 0,
        consultation_id=view.consultation.id or 0,
        source=source,
        started_at=now,
        current_question_id=visible[0].id if visible else None,
        language=language,
    )


def answering_language(
    view: ConsultationView, reader: str | None, choice: str | None, source: str | None
) -> str:
    """The language a new response is answered in: the one chosen, else the reader's.

    Only a language every text of the consultation is in counts: a question is never shown
    half in one language and half in another.

    Raises:
        ChooseLanguage: the consultation has neither; the person is to pick one of its own.
    """
    complete = complete_languages(view)
    for language in (choice, reader):
        if language is not None and language in complete:
            return language
    raise ChooseLanguage(view.consultation, complete, source)


async def current_position(
    session: AsyncSession, participant: Participant, now: datetime
) -> Position | None:
    """Return where the person stands in the consultation they are answering, if any."""
    if participant.active_response_id is None:
        return None
    found = await _with_consultation(
        session,
        col(Response.id) == participant.active_response_id,
        col(Response.participant_id) == participant.id,
    )
    if found is None or not is_open(found.view.consultation, now):
        return None
    return _at(found.view, found.response, found.answers)


@dataclass
class _Located:
    """A button's question checked against the person's response: what a step works on."""

    view: ConsultationView
    response: Response
    question: QuestionView
    answers: dict[int, AnswerValue]

    def position(self, *, completed: bool = False) -> Position:
        """Where the person stands now, from what was loaded (no query)."""
        current = self.response.current_question_id
        question = self.view.question(current) if current else None
        return Position(self.view, self.response, self.answers, question, completed)


async def _locate(
    session: AsyncSession,
    participant: Participant,
    question_id: int,
    now: datetime,
    *,
    must_be_current: bool = True,
) -> _Located:
    """Check a button's question against the database and the person's place in it.

    One query: the response with its consultation and answers (the question to consultation
    map and the questions come from :data:`VIEWS`; a question it does not know costs one
    more).
    """
    consultation_id = VIEWS.consultation_of(question_id)
    if consultation_id is None:
        consultation_id = (
            await session.exec(select(Question.consultation_id).where(Question.id == question_id))
        ).first()
        if consultation_id is None:
            raise UnknownQuestion("no such question")
    found = await _with_consultation(
        session,
        col(Response.participant_id) == participant.id,
        col(Response.consultation_id) == consultation_id,
    )
    if found is None:
        raise UnknownQuestion("not started")
    response, view = found.response, found.view
    if not is_open(view.consultation, now):
        raise ConsultationNotOpen
    question = view.question(question_id)
    if question is None:
        raise UnknownQuestion("no such question")
    if participant.active_response_id not in (None, response.id):
        await _stay_in_current(session, participant, now)
    located = _Located(view, response, question, found.answers)
    if must_be_current and response.current_question_id != question_id:
        raise StaleQuestion(located.position())
    participant.active_response_id = response.id
    return located


async def _stay_in_current(session: AsyncSession, participant: Participant, now: datetime) -> None:
    """Refuse an old button of another consultation while the person is in the middle of one."""
    current = await current_position(session, participant, now)
    if current is not None and current.question is not None:
        raise InAnotherConsultation(current)


async def _store(
    session: AsyncSession,
    located: _Located,
    question_id: int,
    now: datetime,
    value: AnswerValue,
) -> None:
    """Write the answer, replacing any earlier one (the unique constraint keeps it single).

    The earlier answer is the one loaded with the response: an update of the answer's row (or
    an insert), and of its ticked options only what changed.
    """
    earlier = located.answers.get(question_id)
    fields = {
        "number": value.number,
        "text": value.text,
        "skipped": value.skipped,
        "answered_at": now,
    }
    if earlier is None or earlier.answer_id is None:
        inserted = await session.exec(
            insert(Answer)  # type: ignore[call-overload]
            .values(response_id=located.response.id, question_id=question_id, **fields)
            .returning(col(Answer.id))
        )
        value.answer_id = int(inserted.scalar_one())
        before: list[int] = []
    else:
        value.answer_id = earlier.answer_id
        await session.exec(
            update(Answer)  # type: ignore[call-overload]
            .where(col(Answer.id) == earlier.answer_id)
            .values(**fields)
        )
        before = earlier.option_ids
    await _store_choices(session, value.answer_id, before, value.option_ids)
    located.answers[question_id] = value
    previous_text = earlier.text if earlier is not None else None
    if value.text != previous_text:
        # Moderation hook: a new or changed free text is queued for review (pending) in this
        # same transaction; a text replaced by a skip leaves the queue.
        await text_changed(session, value.answer_id, value.text, now)


async def _store_choices(
    session: AsyncSession, answer_id: int, before: list[int], after: list[int]
) -> None:
    """Untick the options no longer chosen and tick the new ones; the rest stay as they are."""
    gone = [o for o in before if o not in after]
    new = [o for o in after if o not in before]
    if gone:
        await session.exec(
            delete(AnswerChoice).where(  # type: ignore[call-overload]
                col(AnswerChoice.answer_id) == answer_id,
                col(AnswerChoice.option_id).in_(gone),
            )
        )
    if new:
        await session.exec(
            insert(AnswerChoice).values(  # type: ignore[call-overload]
                [{"answer_id": answer_id, "option_id": o} for o in new]
            )
        )


async def _answer(
    session: AsyncSession, located: _Located, now: datetime, value: AnswerValue
) -> Position:
    """Store the answer to the located question and move past it."""
    await _store(session, located, located.question.id, now, value)
    return await _advance(session, located, now)


async def _advance(session: AsyncSession, located: _Located, now: datetime) -> Position:
    """Move past the current question: to the next one, or to the summary."""
    view, response, answers = located.view, located.response, located.answers
    visible = visible_questions(view, answers)
    visible_ids = {q.id for q in visible}
    hidden = [qid for qid in answers if qid not in visible_ids]
    if hidden:
        # A changed answer can hide later questions: their answers no longer apply.
        await session.exec(  # type: ignore[call-overload]
            delete(Answer).where(
                col(Answer.response_id) == response.id, col(Answer.question_id).in_(hidden)
            )
        )
        for qid in hidden:
            answers.pop(qid)
    following: QuestionView | None
    if response.editing:
        following = next((q for q in visible if q.id not in answers), None)
    else:
        current = view.question(response.current_question_id or 0)
        after = current.question.position if current else -1
        following = next((q for q in visible if q.question.position > after), None)
    completed = following is None and response.completed_at is None
    if following is None:
        response.editing = False
        response.completed_at = response.completed_at or now
    response.current_question_id = following.id if following else None
    await session.flush()
    return Position(view, response, answers, following, just_completed=completed)


async def choose(
    session: AsyncSession,
    participant: Participant,
    question_id: int,
    option_id: int,
    now: datetime,
) -> Position:
    """Answer a single-choice or yes/no question with a button."""
    return await _choose(
        session, await _locate(session, participant, question_id, now), option_id, now
    )


async def _choose(
    session: AsyncSession, located: _Located, option_id: int, now: datetime
) -> Position:
    question = located.question
    if question.type not in (QuestionType.SINGLE_CHOICE, QuestionType.YES_NO):
        raise UnknownQuestion("not a single-choice question")
    if question.option(option_id) is None:
        raise UnknownQuestion("option of another question")
    return await _answer(session, located, now, AnswerValue(option_ids=[option_id]))


async def toggle(
    session: AsyncSession,
    participant: Participant,
    question_id: int,
    option_id: int,
    now: datetime,
) -> Position:
    """Tick or untick one option of a multiple-choice question; the question stays."""
    located = await _locate(session, participant, question_id, now)
    question = located.question
    if question.type != QuestionType.MULTIPLE_CHOICE or question.option(option_id) is None:
        raise UnknownQuestion("option of another question")
    earlier = located.answers.get(question_id)
    chosen = list(earlier.option_ids) if earlier is not None else []
    if option_id in chosen:
        chosen.remove(option_id)
    else:
        limit = question.question.max_choices
        if limit is not None and len(chosen) >= limit:
            raise AnswerRejected(Problem.TOO_MANY, located.position(), limit)
        chosen.append(option_id)
    await _store(session, located, question_id, now, AnswerValue(option_ids=chosen))
    return located.position()


async def finish_choices(
    session: AsyncSession, participant: Participant, question_id: int, now: datetime
) -> Position:
    """Confirm the ticked options of a multiple-choice question and move on."""
    located = await _locate(session, participant, question_id, now)
    question = located.question
    if question.type != QuestionType.MULTIPLE_CHOICE:
        raise UnknownQuestion("not a multiple-choice question")
    if not located.answers.get(question_id, AnswerValue()).option_ids:
        if question.question.required:
            raise AnswerRejected(Problem.REQUIRED, located.position())
        await _store(session, located, question_id, now, AnswerValue(skipped=True))
    return await _advance(session, located, now)


async def rate(
    session: AsyncSession, participant: Participant, question_id: int, value: int, now: datetime
) -> Position:
    """Answer a scale question."""
    return await _rate(session, await _locate(session, participant, question_id, now), value, now)


async def _rate(session: AsyncSession, located: _Located, value: int, now: datetime) -> Position:
    q = located.question.question
    if located.question.type != QuestionType.SCALE:
        raise UnknownQuestion("not a scale question")
    if not (q.scale_min or 0) <= value <= (q.scale_max or 0):
        raise AnswerRejected(Problem.OUT_OF_RANGE, located.position())
    return await _answer(session, located, now, AnswerValue(number=value))


async def skip(
    session: AsyncSession, participant: Participant, question_id: int, now: datetime
) -> Position:
    """Pass over a question that is not required."""
    located = await _locate(session, participant, question_id, now)
    if located.question.question.required:
        raise AnswerRejected(Problem.REQUIRED, located.position())
    return await _answer(session, located, now, AnswerValue(skipped=True))


async def back(
    session: AsyncSession, participant: Participant, question_id: int, now: datetime
) -> Position:
    """Go to the previous question (from an edit: back to the summary)."""
    located = await _locate(session, participant, question_id, now)
    response, question = located.response, located.question
    if response.editing and response.completed_at is not None:
        response.editing = False
        response.current_question_id = None
    else:
        earlier = [
            q
            for q in visible_questions(located.view, located.answers)
            if q.question.position < question.question.position
        ]
        if earlier:
            response.current_question_id = earlier[-1].id
    await session.flush()
    return located.position()


async def edit(
    session: AsyncSession, participant: Participant, question_id: int, now: datetime
) -> Position:
    """From the summary, go to one question to change its answer."""
    located = await _locate(session, participant, question_id, now, must_be_current=False)
    response, question = located.response, located.question
    if response.completed_at is None or not is_visible(question, located.view, located.answers):
        raise StaleQuestion(located.position())
    response.current_question_id = question_id
    response.editing = True
    await session.flush()
    return located.position()


async def show_summary(
    session: AsyncSession, participant: Participant, consultation_id: int, now: datetime
) -> Position:
    """Return the summary of a completed response."""
    found = await _with_consultation(
        session,
        col(Response.participant_id) == participant.id,
        col(Response.consultation_id) == consultation_id,
    )
    if found is None or found.response.completed_at is None:
        raise UnknownQuestion("not completed")
    return Position(found.view, found.response, found.answers, None)


async def record_choices(
    session: AsyncSession,
    view: ConsultationView,
    response: Response,
    question: QuestionView,
    option_ids: list[int],
    now: datetime,
) -> Position:
    """Store choices made outside the button flow (a native poll); none withdraws the answer.

    Withdrawing makes the response incomplete again and brings the person back to the question.
    """
    if not is_open(view.consultation, now):
        raise ConsultationNotOpen
    if option_ids:
        response.current_question_id = question.id
        located = _Located(
            view, response, question, await _load_answers(session, response.id or 0)
        )
        return await _answer(session, located, now, AnswerValue(option_ids=option_ids))
    await session.exec(  # type: ignore[call-overload]
        delete(Answer).where(
            col(Answer.response_id) == response.id, col(Answer.question_id) == question.id
        )
    )
    response.completed_at = None
    response.current_question_id = question.id
    await session.flush()
    return await _position(session, view, response)


async def type_answer(
    session: AsyncSession, participant: Participant, text: str, now: datetime
) -> Position:
    """Answer the current question with typed text: free text, a scale digit, yes or no."""
    position = await current_position(session, participant, now)
    if position is None or position.question is None:
        raise NotInConsultation
    question = position.question
    located = _Located(position.view, position.response, question, position.answers)
    q = question.question
    cleaned = text.strip()
    if question.type == QuestionType.FREE_TEXT:
        if not cleaned:
            raise AnswerRejected(Problem.EMPTY, position)
        if q.max_length is not None and len(cleaned) > q.max_length:
            raise AnswerRejected(Problem.TOO_LONG, position, q.max_length)
        return await _answer(session, located, now, AnswerValue(text=cleaned))
    if question.type == QuestionType.SCALE:
        # isdecimal, not isdigit: "²" is a digit int() refuses. A number thousands of digits
        # long is out of range anyway, and int() refuses it too (found by the fuzz test).
        if not cleaned.isdecimal() or len(cleaned) > 9:
            raise AnswerRejected(Problem.OUT_OF_RANGE, position)
        return await _rate(session, located, int(cleaned), now)
    if question.type == QuestionType.YES_NO:
        word = cleaned.lower().rstrip(".!")
        key = "yes" if word in YES_WORDS else "no" if word in NO_WORDS else None
        option = next((o for o in question.options if o.key == key), None)
        if option is None:
            raise AnswerRejected(Problem.USE_BUTTONS, position)
        return await _choose(session, located, option.id or 0, now)
    raise AnswerRejected(Problem.USE_BUTTONS, position)


async def leave(session: AsyncSession, participant: Participant) -> int | None:
    """Step out of the current consultation; the answers stay for later.

    Returns the consultation's id, or None when the person was not in the middle of one (a
    consultation answered to the end has nothing left to pause).
    """
    await forget_prompt(session, participant)
    if participant.active_response_id is None:
        return None
    response = await session.get(Response, participant.active_response_id)
    participant.active_response_id = None
    await session.flush()
    if response is None or response.current_question_id is None:
        return None
    return response.consultation_id
