"""Answering consultations: the list, every question type, navigation, typed answers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from handlers import callbacks as cb
from handlers import render
from handlers.common import Abort, Outgoing, Reply, Scene, answer
from handlers.context import BotContext
from handlers.i18n import _
from handlers.privacy import consented
from models import response as flow
from models.consultation import open_consultations
from models.participant import Participant
from models.polls import can_be_poll
from models.response import Position


async def consultation_list(
    session: AsyncSession, participant: Participant, now: datetime
) -> Outgoing:
    """The open consultations as buttons, marked when started or answered."""
    consultations = await open_consultations(session, now)
    if not consultations:
        return Outgoing(_("There are no open consultations right now. Please check again later."))
    responses = await flow.responses_by_consultation(session, participant)
    buttons = [
        [
            InlineKeyboardButton(
                render.consultation_label(c, responses.get(c.id or 0)),
                callback_data=cb.OpenConsultation(c.id or 0).pack(),
            )
        ]
        for c in consultations
    ]
    return Outgoing(_("<b>Open consultations</b>\nChoose one:"), InlineKeyboardMarkup(buttons))


async def open_consultation(
    session: AsyncSession,
    participant: Participant,
    consultation_id: int,
    source: str | None,
    now: datetime,
) -> Reply:
    """Start a consultation with its intro, or resume it where the person left off."""
    existing = await flow.find_response(session, participant, consultation_id)
    try:
        position = await flow.start(session, participant, consultation_id, source=source, now=now)
    except flow.ConsultationNotOpen:
        return Reply(send=[Outgoing(_closed_text())])
    except flow.UnknownQuestion:
        return Reply(send=[Outgoing(_invalid_text())])
    if position.view.consultation.as_poll and can_be_poll(position.view):
        if position.at_summary:
            return Reply(send=[render.summary_message(position)])
        return Reply(send=[render.poll_message(position)])
    if existing is None:
        return Reply(send=[render.intro_message(position.view), *render.after_step(position)])
    if position.at_summary:
        return Reply(send=[render.summary_message(position)])
    return Reply(
        send=[
            Outgoing(_("Welcome back! Here is where you left off.")),
            render.where_you_are(position),
        ]
    )


def _closed_text() -> str:
    return _("This consultation is closed. Thank you for your interest! See /consultations.")


def _invalid_text() -> str:
    return _("This button does not work any more. Send /consultations to continue.")


def flow_error_reply(error: flow.FlowError, *, on_button: bool) -> Reply:
    """A polite answer to an action that could not be taken."""
    if isinstance(error, flow.AnswerRejected):
        return render.problem_reply(error, on_button=on_button)
    if isinstance(error, flow.StaleQuestion):
        return Reply(
            notice=_("That question is already behind you. Here is where you are."),
            send=[render.where_you_are(error.position)],
        )
    if isinstance(error, flow.ConsultationNotOpen):
        return (
            Reply(notice=_closed_text()) if on_button else Reply(send=[Outgoing(_closed_text())])
        )
    if isinstance(error, flow.NotInConsultation):
        return Reply(send=[Outgoing(_("I did not understand that. See /consultations or /help."))])
    return Reply(notice=_invalid_text()) if on_button else Reply(send=[Outgoing(_invalid_text())])


Step = Callable[[AsyncSession, Participant, datetime], Awaitable[Position]]


async def _step(
    update: Update, context: BotContext, step: Step, show: Callable[[Position], Reply]
) -> None:
    """Run one flow step for a consenting participant and show its result."""
    on_button = update.callback_query is not None

    async def action(scene: Scene) -> Reply:
        session = scene.session
        participant = scene.participant
        now = scene.now
        person = await consented(session, participant)
        try:
            position = await step(session, person, now)
        except flow.FlowError as error:
            raise Abort(flow_error_reply(error, on_button=on_button)) from error
        reply = show(position)
        if position.just_completed:
            # Imported here: handlers.arenas reaches back to this module through the events.
            from handlers.arenas import after_completion

            # No reminder to finish any more; ask whether to hear back and to join the arena,
            # after the thanks and before the summary, which stays last (answers change there).
            reply.send[-1:-1] = await after_completion(session, person, position, now)
        return reply

    await answer(update, context, action)


def _answered_then_next(question_id: int) -> Callable[[Position], Reply]:
    """Turn the pressed question into its answered form, then send what follows."""

    def show(position: Position) -> Reply:
        question = position.view.question(question_id)
        assert question is not None
        return Reply(
            edit=render.answered_message(position, question), send=render.after_step(position)
        )

    return show


def _replace_in_place(position: Position) -> Reply:
    return Reply(edit=render.where_you_are(position))


async def on_open(update: Update, context: BotContext) -> None:
    """Start or resume the consultation picked from the list."""
    data = cb.OpenConsultation.unpack(
        update.callback_query.data if update.callback_query else None
    )

    async def action(scene: Scene) -> Reply:
        session = scene.session
        participant = scene.participant
        now = scene.now
        person = await consented(session, participant)
        return await open_consultation(session, person, data.consultation_id, None, now)

    await answer(update, context, action)


async def on_choose(update: Update, context: BotContext) -> None:
    """Answer a single-choice or yes/no question."""
    data = cb.Choose.unpack(_data(update))
    await _step(
        update,
        context,
        lambda s, p, now: flow.choose(s, p, data.question_id, data.option_id, now),
        _answered_then_next(data.question_id),
    )


async def on_toggle(update: Update, context: BotContext) -> None:
    """Tick or untick an option; the question's buttons update in place."""
    data = cb.Toggle.unpack(_data(update))
    await _step(
        update,
        context,
        lambda s, p, now: flow.toggle(s, p, data.question_id, data.option_id, now),
        _replace_in_place,
    )


async def on_done(update: Update, context: BotContext) -> None:
    """Confirm the ticked options and move on."""
    data = cb.Done.unpack(_data(update))
    await _step(
        update,
        context,
        lambda s, p, now: flow.finish_choices(s, p, data.question_id, now),
        _answered_then_next(data.question_id),
    )


async def on_rate(update: Update, context: BotContext) -> None:
    """Answer a scale question with a button."""
    data = cb.Rate.unpack(_data(update))
    await _step(
        update,
        context,
        lambda s, p, now: flow.rate(s, p, data.question_id, data.value, now),
        _answered_then_next(data.question_id),
    )


async def on_skip(update: Update, context: BotContext) -> None:
    """Pass over a question that is not required."""
    data = cb.Skip.unpack(_data(update))
    await _step(
        update,
        context,
        lambda s, p, now: flow.skip(s, p, data.question_id, now),
        _answered_then_next(data.question_id),
    )


async def on_back(update: Update, context: BotContext) -> None:
    """Show the previous question in place of this one."""
    data = cb.Back.unpack(_data(update))
    await _step(
        update,
        context,
        lambda s, p, now: flow.back(s, p, data.question_id, now),
        _replace_in_place,
    )


async def on_edit(update: Update, context: BotContext) -> None:
    """Ask one question again, from the summary."""
    data = cb.Edit.unpack(_data(update))
    await _step(
        update,
        context,
        lambda s, p, now: flow.edit(s, p, data.question_id, now),
        lambda position: Reply(send=[render.where_you_are(position)]),
    )


async def on_text(update: Update, context: BotContext) -> None:
    """Take typed text as the answer to the current question."""
    message = update.effective_message
    assert message is not None
    assert message.text is not None
    text = message.text
    await _step(
        update,
        context,
        lambda s, p, now: flow.type_answer(s, p, text, now),
        lambda position: Reply(send=[Outgoing("✓"), *render.after_step(position)]),
    )


async def take_text(scene: Scene, text: str) -> Reply:
    """A typed answer to the current question (the text router's fallback owner)."""
    person = await consented(scene.session, scene.participant)
    try:
        position = await flow.type_answer(scene.session, person, text, scene.now)
    except flow.FlowError as error:
        raise Abort(flow_error_reply(error, on_button=False)) from error
    reply = Reply(send=[Outgoing("✓"), *render.after_step(position)])
    if position.just_completed:
        # Imported here: handlers.arenas reaches back to this module through the events.
        from handlers.arenas import after_completion

        reply.send[-1:-1] = await after_completion(scene.session, person, position, scene.now)
    return reply


async def attachment_reply(scene: Scene) -> Reply:
    """Say politely that only text and buttons are read; show where the person is."""
    session = scene.session
    participant = scene.participant
    now = scene.now
    reply = Reply(
        send=[
            Outgoing(
                _(
                    "I can only read text and button presses, not pictures, stickers, "
                    "voice messages or files."
                )
            )
        ]
    )
    if participant is not None:
        position = await flow.current_position(session, participant, now)
        if position is not None and position.question is not None:
            reply.send.append(render.where_you_are(position))
    return reply


async def on_attachment(update: Update, context: BotContext) -> None:
    """Say politely that only text and buttons are read; show where the person is."""
    await answer(update, context, attachment_reply)


async def list_consultations(update: Update, context: BotContext) -> None:
    """Show the open consultations."""

    async def action(scene: Scene) -> Reply:
        session = scene.session
        participant = scene.participant
        now = scene.now
        person = await consented(session, participant)
        return Reply(send=[await consultation_list(session, person, now)])

    await answer(update, context, action)


async def cancel(update: Update, context: BotContext) -> None:
    """Take a break from the current consultation; answers stay for later."""

    async def action(scene: Scene) -> Reply:
        session = scene.session
        participant = scene.participant
        person = await consented(session, participant)
        if await flow.leave(session, person) is None:
            return Reply(send=[Outgoing(_("There is nothing to cancel. See /consultations."))])
        return Reply(
            send=[
                Outgoing(
                    _("Paused. Your answers are saved. Continue any time with /consultations.")
                )
            ]
        )

    await answer(update, context, action)


def _data(update: Update) -> str | None:
    return update.callback_query.data if update.callback_query else None
