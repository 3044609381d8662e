"""Answering a consultation: where a person stands in it, and recording what they said.

Every step of the conversation is a row (the tables are in :mod:`models.answers`), so a restarted
bot, or another replica, picks up exactly where the person left off. One answer per response and
question is enforced by a unique constraint: a duplicated update replaces, it cannot
double-count. A new or changed free text is queued for moderation in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from sqlalchemy import delete
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

# Response, Answer and AnswerChoice are defined with the other tables in models.answers (the
# consultation's rules and moderation read them too); handlers and tests import them from here.
from models.access_codes import Access, forget_prompt
from models.answers import Answer, AnswerChoice, Response
from models.consultation import (
    Consultation,
    ConsultationView,
    Question,
    QuestionView,
    Status,
    is_open,
    load_consultation,
    opens_later,
)
from models.consultation_file import QuestionType
from models.moderation import text_changed
from models.participant import Participant

YES_WORDS = frozenset({"ja", "j", "jo", "yes", "y"})
NO_WORDS = frozenset({"nei", "n", "no"})


@dataclass
class AnswerValue:
    """What a stored answer holds, ready to show."""

    skipped: bool = False
    option_ids: list[int] = field(default_factory=list)
    number: int | None = None
    text: str | None = None


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
    """A closed consultation asks for a one-time code before its first question."""

    def __init__(self, consultation_id: int) -> None:
        super().__init__("code required")
        self.consultation_id = consultation_id


class NotInConsultation(FlowError):
    """Typed input with no question waiting for it."""


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


async def _load_answers(session: AsyncSession, response_id: int) -> dict[int, AnswerValue]:
    answers = (await session.exec(select(Answer).where(Answer.response_id == response_id))).all()
    by_id = {a.id: a for a in answers}
    values = {
        a.question_id: AnswerValue(skipped=a.skipped, number=a.number, text=a.text)
        for a in answers
    }
    if by_id:
        choices = await session.exec(
            select(AnswerChoice).where(col(AnswerChoice.answer_id).in_(list(by_id)))
        )
        for choice in choices.all():
            values[by_id[choice.answer_id].question_id].option_ids.append(choice.option_id)
    return values


async def _position(
    session: AsyncSession, view: ConsultationView, response: Response, *, completed: bool = False
) -> Position:
    answers = await _load_answers(session, response.id or 0)
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
    admitted: bool = False,
) -> Position:
    """Begin a consultation, or resume it where the person left off.

    A closed consultation (``access: code``) is begun only when ``admitted`` (a one-time code
    was used); otherwise :class:`CodeRequired` is raised. Resuming needs no code again.
    """
    view = await load_consultation(session, consultation_id)
    if view is None:
        raise UnknownQuestion("no such consultation")
    consultation = view.consultation
    if opens_later(consultation, now):
        raise NotOpenYet(consultation, consultation.opens_at)
    if consultation.status == Status.DRAFT:
        raise NotOpenYet(consultation, None)
    if not is_open(consultation, now):
        raise ConsultationNotOpen
    response = await find_response(session, participant, consultation_id)
    if response is None and view.consultation.access == Access.CODE and not admitted:
        raise CodeRequired(consultation_id)
    if response is None:
        visible = visible_questions(view, {})
        response = Response(
            participant_id=participant.id or 0,
            consultation_id=consultation_id,
            source=source,
            started_at=now,
            current_question_id=visible[0].id if visible else None,
        )
        session.add(response)
        await session.flush()
    participant.active_response_id = response.id
    await forget_prompt(session, participant)
    await session.flush()
    return await _position(session, view, response)


async def current_position(
    session: AsyncSession, participant: Participant, now: datetime
) -> Position | None:
    """Return where the person stands in the consultation they are answering, if any."""
    if participant.active_response_id is None:
        return None
    response = await session.get(Response, participant.active_response_id)
    if response is None or response.participant_id != participant.id:
        return None
    view = await load_consultation(session, response.consultation_id)
    if view is None or not is_open(view.consultation, now):
        return None
    return await _position(session, view, response)


async def _locate(
    session: AsyncSession,
    participant: Participant,
    question_id: int,
    now: datetime,
    *,
    must_be_current: bool = True,
) -> tuple[ConsultationView, Response, QuestionView]:
    """Check a button's question against the database and the person's place in it."""
    question = await session.get(Question, question_id)
    if question is None:
        raise UnknownQuestion("no such question")
    view = await load_consultation(session, question.consultation_id)
    assert view is not None
    if not is_open(view.consultation, now):
        raise ConsultationNotOpen
    response = await find_response(session, participant, view.id)
    if response is None:
        raise UnknownQuestion("not started")
    question_view = view.question(question_id)
    assert question_view is not None
    if must_be_current and response.current_question_id != question_id:
        raise StaleQuestion(await _position(session, view, response))
    participant.active_response_id = response.id
    return view, response, question_view


async def _store(
    session: AsyncSession,
    response: Response,
    question_id: int,
    now: datetime,
    value: AnswerValue,
) -> None:
    """Write the answer, replacing any earlier one (the unique constraint keeps it single)."""
    answer = (
        await session.exec(
            select(Answer).where(
                Answer.response_id == response.id, Answer.question_id == question_id
            )
        )
    ).first()
    if answer is None:
        answer = Answer(response_id=response.id or 0, question_id=question_id)
        session.add(answer)
    previous_text = answer.text
    answer.number, answer.text, answer.skipped = value.number, value.text, value.skipped
    answer.answered_at = now
    await session.flush()
    await session.exec(delete(AnswerChoice).where(col(AnswerChoice.answer_id) == answer.id))  # type: ignore[call-overload]
    session.add_all(AnswerChoice(answer_id=answer.id or 0, option_id=o) for o in value.option_ids)
    await session.flush()
    if value.text != previous_text:
        # Moderation hook: a new or changed free text is queued for review (pending) in this
        # same transaction; a text replaced by a skip leaves the queue.
        await text_changed(session, answer.id or 0, value.text, now)


async def _answer(
    session: AsyncSession,
    view: ConsultationView,
    response: Response,
    question_id: int,
    now: datetime,
    value: AnswerValue,
) -> Position:
    """Store the answer and move past the question."""
    await _store(session, response, question_id, now, value)
    return await _advance(session, view, response, now)


async def _rejected(
    session: AsyncSession,
    view: ConsultationView,
    response: Response,
    problem: Problem,
    limit: int | None = None,
) -> AnswerRejected:
    """An answer refused for ``problem``; the person stays where they are."""
    return AnswerRejected(problem, await _position(session, view, response), limit)


async def _advance(
    session: AsyncSession, view: ConsultationView, response: Response, now: datetime
) -> Position:
    """Move past the current question: to the next one, or to the summary."""
    answers = await _load_answers(session, response.id or 0)
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
    view, response, question = await _locate(session, participant, question_id, now)
    if question.type not in (QuestionType.SINGLE_CHOICE, QuestionType.YES_NO):
        raise UnknownQuestion("not a single-choice question")
    if question.option(option_id) is None:
        raise UnknownQuestion("option of another question")
    return await _answer(
        session, view, response, question_id, now, AnswerValue(option_ids=[option_id])
    )


async def toggle(
    session: AsyncSession,
    participant: Participant,
    question_id: int,
    option_id: int,
    now: datetime,
) -> Position:
    """Tick or untick one option of a multiple-choice question; the question stays."""
    view, response, question = await _locate(session, participant, question_id, now)
    if question.type != QuestionType.MULTIPLE_CHOICE or question.option(option_id) is None:
        raise UnknownQuestion("option of another question")
    answers = await _load_answers(session, response.id or 0)
    chosen = list(answers[question_id].option_ids) if question_id in answers else []
    if option_id in chosen:
        chosen.remove(option_id)
    else:
        limit = question.question.max_choices
        if limit is not None and len(chosen) >= limit:
            raise await _rejected(session, view, response, Problem.TOO_MANY, limit)
        chosen.append(option_id)
    await _store(session, response, question_id, now, AnswerValue(option_ids=chosen))
    return await _position(session, view, response)


async def finish_choices(
    session: AsyncSession, participant: Participant, question_id: int, now: datetime
) -> Position:
    """Confirm the ticked options of a multiple-choice question and move on."""
    view, response, question = await _locate(session, participant, question_id, now)
    if question.type != QuestionType.MULTIPLE_CHOICE:
        raise UnknownQuestion("not a multiple-choice question")
    answers = await _load_answers(session, response.id or 0)
    if not answers.get(question_id, AnswerValue()).option_ids:
        if question.question.required:
            raise await _rejected(session, view, response, Problem.REQUIRED)
        await _store(session, response, question_id, now, AnswerValue(skipped=True))
    return await _advance(session, view, response, now)


async def rate(
    session: AsyncSession, participant: Participant, question_id: int, value: int, now: datetime
) -> Position:
    """Answer a scale question."""
    view, response, question = await _locate(session, participant, question_id, now)
    q = question.question
    if question.type != QuestionType.SCALE:
        raise UnknownQuestion("not a scale question")
    if not (q.scale_min or 0) <= value <= (q.scale_max or 0):
        raise await _rejected(session, view, response, Problem.OUT_OF_RANGE)
    return await _answer(session, view, response, question_id, now, AnswerValue(number=value))


async def skip(
    session: AsyncSession, participant: Participant, question_id: int, now: datetime
) -> Position:
    """Pass over a question that is not required."""
    view, response, question = await _locate(session, participant, question_id, now)
    if question.question.required:
        raise await _rejected(session, view, response, Problem.REQUIRED)
    return await _answer(session, view, response, question_id, now, AnswerValue(skipped=True))


async def back(
    session: AsyncSession, participant: Participant, question_id: int, now: datetime
) -> Position:
    """Go to the previous question (from an edit: back to the summary)."""
    view, response, question = await _locate(session, participant, question_id, now)
    answers = await _load_answers(session, response.id or 0)
    if response.editing and response.completed_at is not None:
        response.editing = False
        response.current_question_id = None
    else:
        earlier = [
            q
            for q in visible_questions(view, answers)
            if q.question.position < question.question.position
        ]
        if earlier:
            response.current_question_id = earlier[-1].id
    await session.flush()
    return await _position(session, view, response)


async def edit(
    session: AsyncSession, participant: Participant, question_id: int, now: datetime
) -> Position:
    """From the summary, go to one question to change its answer."""
    view, response, question = await _locate(
        session, participant, question_id, now, must_be_current=False
    )
    answers = await _load_answers(session, response.id or 0)
    if response.completed_at is None or not is_visible(question, view, answers):
        raise StaleQuestion(await _position(session, view, response))
    response.current_question_id = question_id
    response.editing = True
    await session.flush()
    return Position(view, response, answers, question)


async def show_summary(
    session: AsyncSession, participant: Participant, consultation_id: int, now: datetime
) -> Position:
    """Return the summary of a completed response."""
    view = await load_consultation(session, consultation_id)
    if view is None:
        raise UnknownQuestion("no such consultation")
    response = await find_response(session, participant, consultation_id)
    if response is None or response.completed_at is None:
        raise UnknownQuestion("not completed")
    answers = await _load_answers(session, response.id or 0)
    return Position(view, response, answers, None)


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
        value = AnswerValue(option_ids=option_ids)
        return await _answer(session, view, response, question.id, now, value)
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
    q = question.question
    cleaned = text.strip()
    if question.type == QuestionType.FREE_TEXT:
        if not cleaned:
            raise AnswerRejected(Problem.EMPTY, position)
        if q.max_length is not None and len(cleaned) > q.max_length:
            raise AnswerRejected(Problem.TOO_LONG, position, q.max_length)
        value = AnswerValue(text=cleaned)
        return await _answer(session, position.view, position.response, question.id, now, value)
    if question.type == QuestionType.SCALE:
        # isdecimal, not isdigit: "²" is a digit int() refuses. A number thousands of digits
        # long is out of range anyway, and int() refuses it too (found by the fuzz test).
        if not cleaned.isdecimal() or len(cleaned) > 9:
            raise AnswerRejected(Problem.OUT_OF_RANGE, position)
        return await rate(session, participant, question.id, int(cleaned), now)
    if question.type == QuestionType.YES_NO:
        word = cleaned.lower().rstrip(".!")
        key = "yes" if word in YES_WORDS else "no" if word in NO_WORDS else None
        option = next((o for o in question.options if o.key == key), None)
        if option is None:
            raise AnswerRejected(Problem.USE_BUTTONS, position)
        return await choose(session, participant, question.id, option.id or 0, now)
    raise AnswerRejected(Problem.USE_BUTTONS, position)


async def leave(session: AsyncSession, participant: Participant) -> int | None:
    """Step out of the current consultation; the answers stay for later.

    Returns the consultation's id, or None when the person was not in one.
    """
    await forget_prompt(session, participant)
    if participant.active_response_id is None:
        return None
    response = await session.get(Response, participant.active_response_id)
    participant.active_response_id = None
    await session.flush()
    return response.consultation_id if response else None
