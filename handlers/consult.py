"""Answering consultations: the list, every question type, navigation, typed answers.

Each button handler parses its data and names one step of :mod:`models.response`; :func:`_step`
runs it for a consenting person and renders the result with :mod:`handlers.views.consultation`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession
from telegram import Update

from handlers import callbacks as cb
from handlers.background import offer_after_completion
from handlers.common import Abort, Reply, Scene, answer, callback_data
from handlers.context import BotContext
from handlers.i18n import current_language
from handlers.privacy import consented
from handlers.views import consultation as views
from handlers.views.finish import finished_message
from handlers.views.outgoing import Outgoing
from handlers.views.reminders import opens_payload
from models import response as flow
from models.access_codes import CodeCheck, CodePrompt, ask_for_code, check_code
from models.consultation import Consultation, open_consultations, opens_later
from models.followups import offers_after
from models.participant import Participant
from models.reminders import cancel_finish_reminder, remind_when_open
from models.response import Position

Step = Callable[[AsyncSession, Participant, datetime], Awaitable[Position]]
#: A step of :mod:`models.response` taking a question's button: the fields follow the person.
FlowStep = Callable[..., Awaitable[Position]]
#: How a step's result (where the person is, and the message that shows it) is answered.
Show = Callable[[Position, Outgoing], Reply]


async def consultation_list(
    session: AsyncSession, participant: Participant, now: datetime
) -> Outgoing:
    """The open consultations as buttons, marked when started or answered."""
    consultations = await open_consultations(session, now)
    if not consultations:
        return views.consultation_list([], {})
    responses = await flow.responses_by_consultation(session, participant)
    return views.consultation_list(consultations, responses)


async def open_consultation(
    session: AsyncSession,
    participant: Participant,
    consultation_id: int,
    source: str | None,
    now: datetime,
    zone: str,
    choice: str | None = None,
) -> Reply:
    """Start a consultation with its intro, or resume it where the person left off.

    One that has not opened yet says when it will (in ``zone``) and offers to tell then. One
    that lacks the person's language (and ``choice``, a language they picked) asks them to
    pick one of its own.
    """
    existing = await flow.find_response(session, participant, consultation_id)
    try:
        position = await flow.start(
            session,
            participant,
            consultation_id,
            source=source,
            now=now,
            reader=current_language(),
            choice=choice,
        )
    except flow.NotOpenYet as early:
        return Reply(send=[views.not_open_yet(early.consultation, zone)])
    except flow.ChooseLanguage as unspoken:
        return Reply(send=[views.choose_language(unspoken)])
    except flow.CodeRequired as closed:
        return await _ask_for_code(session, participant, closed, source, now)
    except (flow.ConsultationNotOpen, flow.UnknownQuestion) as error:
        return Reply(send=[Outgoing(views.flow_problem(error))])
    return Reply(send=views.opened(position, first_time=existing is None))


async def _ask_for_code(
    session: AsyncSession,
    participant: Participant,
    closed: flow.CodeRequired,
    source: str | None,
    now: datetime,
) -> Reply:
    """A closed consultation: ask for the code from the letter; the next typed text is it."""
    consultation = await session.get(Consultation, closed.consultation_id)
    assert consultation is not None  # flow.start found it
    await ask_for_code(
        session, participant, closed.consultation_id, source, now, language=closed.language
    )
    return Reply(send=[views.code_prompt(consultation, closed.language)])


async def take_code(scene: Scene, prompt: CodePrompt, typed: str) -> Reply:
    """Take typed text as the one-time code a closed consultation asked for."""
    person = await consented(scene.session, scene.participant)
    checked = await check_code(scene.session, prompt, typed, scene.now)
    if checked.outcome is not CodeCheck.ADMITTED:
        # Kept: the count of wrong codes (the update is not rolled back).
        return Reply(send=[Outgoing(views.code_refused(checked.outcome, checked.wait))])
    try:
        position = await flow.start(
            scene.session,
            person,
            prompt.consultation_id,
            source=prompt.source,
            now=scene.now,
            reader=current_language(),
            choice=prompt.language,
            admitted=True,
        )
    except flow.FlowError as error:  # closed meanwhile: the code stays unused
        raise Abort(Reply(send=[Outgoing(views.flow_problem(error))])) from error
    return Reply(send=views.opened(position, first_time=True))


def flow_error_reply(error: flow.FlowError, *, on_button: bool) -> Reply:
    """A polite answer to an action that could not be taken: a toast on a button press.

    A button of a question already behind the person turns its message into where they are,
    so an old message never keeps buttons that lead elsewhere.
    """
    text = views.flow_problem(error)
    if isinstance(error, flow.StaleQuestion):
        if on_button:
            return Reply(notice=text, edit=views.where_you_are(error.position))
        return Reply(notice=text, send=[views.where_you_are(error.position)])
    if on_button and not isinstance(error, flow.NotInConsultation):
        return Reply(notice=text)
    return Reply(send=[Outgoing(text)])


async def after_completion(
    session: AsyncSession, participant: Participant, position: Position, now: datetime
) -> list[Outgoing]:
    """What ends a first completion, and no reminder to finish any more.

    One message: thanks, the summary, whether to hear what came of the consultation and, when
    it names an arena, whether to join it. Once ever, the background questions are offered
    after it, in a message of their own (they are a different question: about the person).
    """
    await cancel_finish_reminder(session, position.response.id or 0)
    offers = await offers_after(session, participant.id or 0, position.view.consultation)
    finished = finished_message(position, offers, thanks=True)
    return [finished, *await offer_after_completion(session, participant, now)]


async def _step(scene: Scene, step: Step, show: Show, *, on_button: bool) -> Reply:
    """Run one flow step for a consenting participant and show its result in one message."""
    person = await consented(scene.session, scene.participant)
    try:
        position = await step(scene.session, person, scene.now)
    except flow.FlowError as error:
        raise Abort(flow_error_reply(error, on_button=on_button)) from error
    if position.just_completed:
        finished, *more = await after_completion(scene.session, person, position, scene.now)
        reply = show(position, finished)
        reply.send.extend(more)
        return reply
    return show(position, views.where_you_are(position))


def _moved_on(question_id: int) -> Show:
    """The pressed question's message becomes what follows; a toast says what was answered."""
    return lambda position, shown: Reply(
        edit=shown, notice=views.answer_toast(position, question_id)
    )


def _in_place(question_id: int) -> Show:
    """Show where the person is now on the pressed message (a tick, the question before)."""
    return lambda position, shown: Reply(edit=shown)


def _typed(position: Position, shown: Outgoing) -> Reply:
    """A typed answer is followed by one message: the next question, or the summary."""
    return Reply(send=[shown])


QuestionButton = cb.Choose | cb.Toggle | cb.Done | cb.Rate | cb.Skip | cb.Back | cb.Edit

#: Each button under a question: the flow step it takes, called with the button's fields in
#: order (the question, then an option or a value), and how the step's result is shown.
QUESTION_BUTTONS: dict[type[QuestionButton], tuple[FlowStep, Callable[[int], Show]]] = {
    cb.Choose: (flow.choose, _moved_on),
    cb.Toggle: (flow.toggle, _in_place),
    cb.Done: (flow.finish_choices, _moved_on),
    cb.Rate: (flow.rate, _moved_on),
    cb.Skip: (flow.skip, _moved_on),
    cb.Back: (flow.back, _in_place),
    # From the summary: the summary's message becomes the question, and the summary again
    # once it is answered, so no superseded summary keeps its buttons.
    cb.Edit: (flow.edit, _in_place),
}
_BY_PREFIX = {kind.prefix: kind for kind in QUESTION_BUTTONS}


def question_button(data: str | None) -> QuestionButton:
    """Parse the data of any button under a question; ``InvalidCallback`` for anything else."""
    kind = _BY_PREFIX.get((data or "").split(":")[0])
    if kind is None:
        raise cb.InvalidCallback("not a question's button")
    return kind.unpack(data)


def _button_step(data: QuestionButton) -> tuple[Step, Show]:
    """The flow step a question's button takes, and how its result is shown."""
    flow_step, show = QUESTION_BUTTONS[type(data)]
    fields = dataclasses.astuple(data)
    return (
        lambda session, person, now: flow_step(session, person, *fields, now),
        show(data.question_id),
    )


async def on_question_button(update: Update, context: BotContext) -> None:
    """Take a button under a question: answer, tick, confirm, rate, skip, go back or edit."""
    step, show = _button_step(question_button(callback_data(update)))
    await answer(update, context, lambda scene: _step(scene, step, show, on_button=True))


async def on_open(update: Update, context: BotContext) -> None:
    """Start or resume the consultation picked from the list."""
    data = cb.OpenConsultation.unpack(callback_data(update))
    await answer(update, context, lambda scene: _open(scene, data.consultation_id))


async def _open(scene: Scene, consultation_id: int) -> Reply:
    person = await consented(scene.session, scene.participant)
    return await open_consultation(
        scene.session, person, consultation_id, None, scene.now, scene.runtime.timezone
    )


async def on_read_in(update: Update, context: BotContext) -> None:
    """Begin a consultation in the language the person picked from its own."""
    data = cb.ReadIn.unpack(callback_data(update))
    await answer(update, context, lambda scene: _read_in(scene, data))


async def _read_in(scene: Scene, data: cb.ReadIn) -> Reply:
    person = await consented(scene.session, scene.participant)
    reply = await open_consultation(
        scene.session,
        person,
        data.consultation_id,
        data.source or None,
        scene.now,
        scene.runtime.timezone,
        choice=data.language,
    )
    # The choice's message gives way to what it opened, so its buttons cannot be pressed twice.
    if reply.send and reply.edit is None:
        reply.edit = reply.send.pop(0)
    return reply


async def on_remind_opening(update: Update, context: BotContext) -> None:
    """Promise a message for when the consultation opens, and queue it."""
    data = cb.RemindOpening.unpack(callback_data(update))
    await answer(update, context, lambda scene: _remind_opening(scene, data.consultation_id))


async def _remind_opening(scene: Scene, consultation_id: int) -> Reply:
    person = await consented(scene.session, scene.participant)
    consultation = await scene.session.get(Consultation, consultation_id)
    if consultation is None or not opens_later(consultation, scene.now):
        # Open by now (or gone): the person may simply begin.
        return await open_consultation(
            scene.session, person, consultation_id, None, scene.now, scene.runtime.timezone
        )
    payload = opens_payload(consultation, person.language or scene.runtime.default_language)
    await remind_when_open(scene.session, person.id or 0, consultation, payload)
    return Reply(edit=views.will_remind(consultation, scene.runtime.timezone))


async def take_text(scene: Scene, text: str) -> Reply:
    """Take typed text as the answer to the current question (``Abort`` when it cannot be)."""
    return await _step(
        scene,
        lambda session, person, now: flow.type_answer(session, person, text, now),
        _typed,
        on_button=False,
    )


async def attachment_reply(scene: Scene) -> Reply:
    """Say politely that only text and buttons are read; show where the person is."""
    reply = Reply(send=[Outgoing(views.attachment_text())])
    if scene.participant is not None:
        position = await flow.current_position(scene.session, scene.participant, scene.now)
        if position is not None and position.question is not None:
            reply.send.append(views.where_you_are(position))
    return reply


async def on_attachment(update: Update, context: BotContext) -> None:
    """Say politely that only text and buttons are read; show where the person is."""
    await answer(update, context, attachment_reply)


async def list_consultations(update: Update, context: BotContext) -> None:
    """Show the open consultations."""
    await answer(update, context, _list)


async def _list(scene: Scene) -> Reply:
    person = await consented(scene.session, scene.participant)
    return Reply(send=[await consultation_list(scene.session, person, scene.now)])


async def cancel(update: Update, context: BotContext) -> None:
    """Take a break from the current consultation; answers stay for later."""
    await answer(update, context, _cancel)


async def _cancel(scene: Scene) -> Reply:
    person = await consented(scene.session, scene.participant)
    left = await flow.leave(scene.session, person)
    return Reply(send=[Outgoing(views.paused_text(was_answering=left is not None))])
