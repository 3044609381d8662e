"""Follow-ups: ``/stop``, "you said, we did" (``/outcome``), the reminder to finish.

``/outcome`` lists closed consultations; staff pick one, write what came of it (links are fine),
may attach a document, see a preview and the count of people who asked to hear, and send. The
draft :class:`models.followups.Outcome` row is the conversation.

Staff drafts wait for typed text (an event's title, an outcome's text) and documents (an
outcome's attachment); :func:`on_text` and :func:`on_document` route those to the draft the
staff member touched last, and everything else on to the handlers that were there before.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from html import escape

from sqlmodel.ext.asyncio.session import AsyncSession
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from handlers import authoring
from handlers import broadcast as broadcasts
from handlers import callbacks as cb
from handlers import events as event_handlers
from handlers.common import Outgoing, Reply, Scene, answer
from handlers.context import BotContext, Runtime
from handlers.i18n import _, current_language, ngettext
from handlers.i18n import language as writing_in
from handlers.staff import authorized, refusal
from handlers.views import reminders as reminder_views
from handlers.views.consultation import title_of
from handlers.views.reminders import Payload, finish_payload
from models import events, outbox
from models.base import localized
from models.consultation import Consultation
from models.followups import (
    OUTCOME_LIMIT,
    Outcome,
    OutcomeProblem,
    OutcomeState,
    closed_consultations,
    count_outcome_audience,
    current_outcome_draft,
    is_closed,
    new_outcome_draft,
    publish_outcome,
    stop_messages,
)
from models.reminders import (
    FINISH_BATCH,
    ReminderPolicy,
    Unfinished,
    cancel_pointless_finish_reminders,
    queue_finish_reminders,
    unfinished_to_remind,
)
from models.roles import Role, audit
from models.stops import stopped_at

logger = logging.getLogger(__name__)

#: Seconds between looks for people to remind to finish (every replica looks; one writes).
FINISH_REMINDER_TICK = 30.0
DRAFT_TEXT_WINDOW = event_handlers.DRAFT_TEXT_WINDOW


# ---------------------------------------------------------------------- /stop


async def stop(update: Update, context: BotContext) -> None:
    """``/stop``: no more messages that are not replies; unsent ones end at once."""
    await answer(update, context, _stop)


async def _stop(scene: Scene) -> Reply:
    person = scene.participant
    if person is None:
        return Reply(send=[reminder_views.nothing_to_stop()])
    if await stopped_at(scene.session, person.id or 0) is not None:
        return Reply(send=[reminder_views.stopped(already=True)])
    await stop_messages(scene.session, person, scene.now)
    return Reply(send=[reminder_views.stopped(already=False)])


# ---------------------------------------------------------------------- the reminder to finish


async def remind_unfinished(context: BotContext) -> None:
    """Queue the reminder to finish for everyone due one (a job; every replica runs it).

    One transaction per batch; the first also cancels waiting reminders that became
    pointless (finished, or the consultation closed).
    """
    runtime = context.runtime
    policy = event_handlers.reminder_policy(runtime)
    if policy.finish_after is None:
        return
    now = runtime.clock()
    queued = 0
    first = True
    while True:
        added, due = await _remind_batch(runtime, policy, policy.finish_after, now, first=first)
        queued += added
        first = False
        if due < FINISH_BATCH:
            break
    if queued:
        logger.info("Queued %d reminders to finish a consultation", queued)


async def _remind_batch(
    runtime: Runtime, policy: ReminderPolicy, after: timedelta, now: datetime, *, first: bool
) -> tuple[int, int]:
    """Queue the reminders of one batch of people due one; how many queued, how many due."""
    lock = runtime.transaction_lock or contextlib.nullcontext()
    async with lock, runtime.sessionmaker() as session, session.begin():
        if first:
            cancelled = await cancel_pointless_finish_reminders(session, now)
            if cancelled:
                logger.info("Cancelled %d reminders to finish", cancelled)
        due = await unfinished_to_remind(session, now, after)
        titles = {
            cid: await session.get(Consultation, cid) for cid in {c.consultation_id for c in due}
        }
        queued = await queue_finish_reminders(
            session, due, now, policy, _payload_for(titles, policy.language_of)
        )
    return queued, len(due)


def _payload_for(
    consultations: dict[int, Consultation | None], language_of: Callable[[str | None], str]
) -> Callable[[Unfinished], Payload]:
    """Render each reminder once per consultation and language, however many get it."""
    rendered: dict[tuple[int, str], Payload] = {}

    def payload(item: Unfinished) -> Payload:
        code = language_of(item.language)
        key = (item.consultation_id, code)
        if key not in rendered:
            consultation = consultations[item.consultation_id]
            assert consultation is not None
            rendered[key] = finish_payload(consultation, code)
        return rendered[key]

    return payload


# ---------------------------------------------------------------------- /outcome


def outcome_payloads(
    outcome: Outcome, consultation: Consultation, language: str
) -> list[dict[str, object]]:
    """What one person gets: the notice, then the document if there is one."""
    with writing_in(language):
        title = escape(localized(consultation.title, language, consultation.languages[0]))
        text = "\n\n".join(
            [
                _("📢 <b>You said, we did</b>: {title}").format(title=title),
                _("You asked to hear what came of this consultation. Here it is:"),
                outcome.text or "",
                "<i>" + _("Thank you for taking part!") + "</i>",
            ]
        )
        payloads: list[dict[str, object]] = [{"text": text, "parse_mode": "HTML"}]
        if outcome.document_file_id:
            payloads.append(
                {
                    "document": outcome.document_file_id,
                    "caption": title_of(consultation),
                    "parse_mode": "HTML",
                }
            )
        return payloads


def _outcome_cancel(outcome_id: int) -> list[InlineKeyboardButton]:
    return [
        InlineKeyboardButton(
            _("✖ Cancel"), callback_data=cb.OutcomeOption(outcome_id, "drop").pack()
        )
    ]


def _outcome_prompt(draft: Outcome, consultation: Consultation) -> Outgoing:
    oid = draft.id or 0
    if draft.step == "text":
        text = _(
            "<b>What came of {title}?</b>\nWrite it as your next message: what was decided and "
            "why. Links are fine. At most {n} characters."
        ).format(title=title_of(consultation), n=OUTCOME_LIMIT)
        return Outgoing(text, InlineKeyboardMarkup([_outcome_cancel(oid)]))
    text = _("Add a document, for example the decision as a PDF? Send it now, or press Skip.")
    skip = [InlineKeyboardButton(_("Skip ▶"), callback_data=cb.OutcomeOption(oid, "skip").pack())]
    return Outgoing(text, InlineKeyboardMarkup([skip, _outcome_cancel(oid)]))


async def _outcome_confirm(
    session: AsyncSession, draft: Outcome, consultation: Consultation
) -> list[Outgoing]:
    size = await count_outcome_audience(session, consultation)
    previews = outcome_payloads(draft, consultation, current_language())
    lines = [_("<b>Ready</b>")]
    if draft.document_name:
        lines.append(_("With the document {name}.").format(name=escape(draft.document_name)))
    if size:
        lines.append(
            ngettext(
                "{n} person answered and asked to hear what came of it.",
                "{n} people answered and asked to hear what came of it.",
                size,
            ).format(n=size)
        )
        send = ngettext("✅ Send to {n} person", "✅ Send to {n} people", size).format(n=size)
    else:
        lines.append(_("Nobody has asked to hear what came of it, so nobody gets it."))
        send = _("✅ Save it anyway")
    rows = [
        [InlineKeyboardButton(send, callback_data=cb.OutcomeOption(draft.id or 0, "send").pack())],
        _outcome_cancel(draft.id or 0),
    ]
    return [
        Outgoing(_("<b>Preview</b>:")),
        Outgoing(str(previews[0]["text"])),
        Outgoing("\n".join(lines), InlineKeyboardMarkup(rows)),
    ]


async def outcome_command(update: Update, context: BotContext) -> None:
    """``/outcome``: pick a closed consultation to tell its participants what came of it."""

    async def action(scene: Scene) -> Reply:
        session = scene.session
        now = scene.now
        if not await authorized(session, update, context, Role.STAFF, "/outcome"):
            return refusal(update)
        closed = await closed_consultations(session, now)
        if not closed:
            return Reply(
                send=[
                    Outgoing(
                        _(
                            "No consultation is closed yet. Close one in /manage first; then "
                            "tell the people who answered what came of it."
                        )
                    )
                ]
            )
        lines = [_("<b>You said, we did</b>"), _("Which consultation is it about?")]
        rows = []
        for consultation in closed:
            size = await count_outcome_audience(session, consultation)
            lines.append(
                "• "
                + title_of(consultation)
                + ": "
                + ngettext("{n} asked to hear", "{n} asked to hear", size).format(n=size)
            )
            rows.append(
                [
                    InlineKeyboardButton(
                        "📢 " + consultation.slug,
                        callback_data=cb.OutcomePick(consultation.id or 0).pack(),
                    )
                ]
            )
        return Reply(send=[Outgoing("\n".join(lines), InlineKeyboardMarkup(rows))])

    await answer(update, context, action)


async def on_outcome_pick(update: Update, context: BotContext) -> None:
    """Start an outcome draft for the consultation; ask for the text."""
    data = cb.OutcomePick.unpack(update.callback_query.data if update.callback_query else None)
    user = update.effective_user
    chat = update.effective_chat
    assert user is not None
    assert chat is not None

    async def action(scene: Scene) -> Reply:
        session = scene.session
        now = scene.now
        if not await authorized(session, update, context, Role.STAFF, "outcome.pick"):
            return refusal(update)
        consultation = await session.get(Consultation, data.consultation_id)
        if consultation is None:
            return Reply(notice=_("That consultation no longer exists."))
        if not is_closed(consultation, now):
            return Reply(notice=_still_open())
        draft = await new_outcome_draft(
            session, consultation.id or 0, user.id, chat.id, current_language(), now
        )
        return Reply(send=[_outcome_prompt(draft, consultation)])

    await answer(update, context, action)


def _still_open() -> str:
    return _("Close the consultation first: people can still answer it.")


async def _own_outcome(session: AsyncSession, update: Update, outcome_id: int) -> Outcome | None:
    draft = await session.get(Outcome, outcome_id)
    user = update.effective_user
    if (
        draft is None
        or user is None
        or draft.state != OutcomeState.DRAFT
        or draft.created_by != user.id
    ):
        return None
    return draft


def _outcome_gone() -> Reply:
    return Reply(notice=_("This draft is no longer open. Send /outcome to start again."))


async def on_outcome_option(update: Update, context: BotContext) -> None:
    """Skip the document, send, or drop an outcome draft."""
    data = cb.OutcomeOption.unpack(update.callback_query.data if update.callback_query else None)
    if data.option not in ("skip", "send", "drop"):
        raise cb.InvalidCallback("unknown option")
    actor = update.effective_user.id if update.effective_user else None
    runtime = context.runtime

    async def action(scene: Scene) -> Reply:
        session = scene.session
        now = scene.now
        if not await authorized(session, update, context, Role.STAFF, "outcome.option"):
            return refusal(update)
        draft = await _own_outcome(session, update, data.outcome_id)
        if draft is None:
            return _outcome_gone()
        consultation = await session.get(Consultation, draft.consultation_id)
        assert consultation is not None
        draft.updated_at = now
        if data.option == "drop":
            await session.delete(draft)
            return Reply(edit=Outgoing(_("Cancelled. Nothing was sent.")))
        if data.option == "skip" and draft.step == "document":
            draft.step = "confirm"
            return Reply(
                edit=Outgoing(_("No document.")),
                send=await _outcome_confirm(session, draft, consultation),
            )
        if data.option != "send" or draft.step != "confirm":
            return Reply(notice=_("That step is behind you."))
        try:
            sent = await publish_outcome(
                session,
                draft,
                consultation,
                now,
                lambda code: outcome_payloads(draft, consultation, code),
                runtime.default_language,
            )
        except OutcomeProblem as problem:
            text = _still_open() if problem.code == "open" else _("Please write the text first.")
            return Reply(notice=text)
        await audit(
            session,
            actor,
            "outcome.publish",
            consultation.slug,
            {"outcome": draft.id, "recipients": sent},
            now=now,
        )
        return Reply(
            edit=Outgoing(
                ngettext(
                    "✅ Sent. {n} person gets what came of it.",
                    "✅ Sent. {n} people get what came of it.",
                    sent,
                ).format(n=sent)
            )
        )

    await answer(update, context, action)


async def _take_outcome_text(
    session: AsyncSession, draft: Outcome, typed: str, html: str, now: datetime
) -> Reply:
    consultation = await session.get(Consultation, draft.consultation_id)
    assert consultation is not None
    if not typed.strip():
        return Reply(
            send=[Outgoing(_("Please write it as text.")), _outcome_prompt(draft, consultation)]
        )
    if len(typed) > OUTCOME_LIMIT:
        return Reply(
            send=[
                Outgoing(
                    _(
                        "That is too long: at most {limit} characters. "
                        "Please shorten it and send it again."
                    ).format(limit=OUTCOME_LIMIT)
                )
            ]
        )
    draft.text = html
    draft.step = "document"
    draft.updated_at = now
    return Reply(send=[Outgoing(_("Saved.")), _outcome_prompt(draft, consultation)])


# ---------------------------------------------------------------------- routing staff input


async def _newest_draft(
    session: AsyncSession, user_id: int, since: datetime
) -> tuple[str, datetime] | None:
    """Which draft of the staff member waits for typed text, the newest of each kind."""
    waiting: list[tuple[datetime, str]] = []
    event = await events.current_draft(session, user_id, since)
    if event is not None and event_handlers.waits_for_text(event):
        waiting.append((event.updated_at, "event"))
    outcome = await current_outcome_draft(session, user_id, since)
    if outcome is not None and outcome.step == "text":
        waiting.append((outcome.updated_at, "outcome"))
    broadcast = await outbox.current_draft(session, user_id, since=since)
    if broadcast is not None and broadcasts._waits_for_text(broadcast):
        waiting.append((broadcast.updated_at, "broadcast"))
    if not waiting:
        return None
    when, kind = max(waiting)
    return kind, when


async def on_text(update: Update, context: BotContext) -> None:
    """Typed text: for the staff member's newest draft that waits for it, else as before.

    Event and outcome drafts are handled here; a broadcast draft, and everyone else's text
    (answers to consultations), go to :func:`handlers.broadcast.on_text` as before.
    """
    user = update.effective_user
    message = update.effective_message
    assert user is not None
    assert message is not None
    runtime = context.runtime
    async with runtime.sessionmaker() as session:
        newest = await _newest_draft(session, user.id, runtime.clock() - DRAFT_TEXT_WINDOW)
    if newest is None or newest[0] == "broadcast":
        await broadcasts.on_text(update, context)
        return
    kind = newest[0]
    typed = message.text or ""
    html = message.text_html if message.text else ""

    async def action(scene: Scene) -> Reply:
        session = scene.session
        now = scene.now
        if not await authorized(session, update, context, Role.STAFF, f"{kind}.text"):
            return refusal(update)
        since = now - DRAFT_TEXT_WINDOW
        if kind == "event":
            draft = await events.current_draft(session, user.id, since)
            if draft is None or not event_handlers.waits_for_text(draft):
                return Reply(
                    send=[Outgoing(_("This draft is no longer open. Send /event to start again."))]
                )
            return await event_handlers.take_text(session, draft, typed, runtime, now)
        outcome = await current_outcome_draft(session, user.id, since)
        if outcome is None or outcome.step != "text":
            return Reply(
                send=[Outgoing(_("This draft is no longer open. Send /outcome to start again."))]
            )
        return await _take_outcome_text(session, outcome, typed, html, now)

    await answer(update, context, action)


async def on_document(update: Update, context: BotContext) -> None:
    """A document: an outcome's attachment when a draft waits for one, else as before."""
    user = update.effective_user
    message = update.effective_message
    assert user is not None
    assert message is not None
    document = message.document
    assert document is not None
    runtime = context.runtime
    async with runtime.sessionmaker() as session:
        waiting = await current_outcome_draft(
            session, user.id, runtime.clock() - DRAFT_TEXT_WINDOW
        )
    if waiting is None or waiting.step != "document":
        await authoring.on_document(update, context)
        return

    async def action(scene: Scene) -> Reply:
        session = scene.session
        now = scene.now
        if not await authorized(session, update, context, Role.STAFF, "outcome.document"):
            return refusal(update)
        draft = await current_outcome_draft(session, user.id, now - DRAFT_TEXT_WINDOW)
        if draft is None or draft.step != "document":
            return Reply(
                send=[Outgoing(_("This draft is no longer open. Send /outcome to start again."))]
            )
        consultation = await session.get(Consultation, draft.consultation_id)
        assert consultation is not None
        draft.document_file_id = document.file_id
        draft.document_name = (document.file_name or "document")[:200]
        draft.step = "confirm"
        draft.updated_at = now
        return Reply(send=await _outcome_confirm(session, draft, consultation))

    await answer(update, context, action)
