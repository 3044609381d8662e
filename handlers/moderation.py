"""Moderators review free texts: ``/review`` in a private chat, and the moderation group.

What a moderator is shown of a text is built from :class:`models.moderation.ItemView` only:
the consultation's title, the question, the text with personal data replaced by labels,
markers, and the size of the queue. No id, name or username of the writer is ever at hand here.

New texts are posted to the moderation group after the answer's transaction committed: a job
runs right after each typed message, and again on the scheduler's tick for anything a crash or
a Telegram error left unposted. The claim is on the text's own moderation row (``posted_at``),
so the durable state is in the database and a text is posted once.
"""

from __future__ import annotations

import contextlib
import logging
from datetime import datetime
from html import escape

from sqlmodel.ext.asyncio.session import AsyncSession
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ChatType, ParseMode
from telegram.error import ChatMigrated, Forbidden, TelegramError

from handlers import callbacks as cb
from handlers.common import Outgoing, Reply, Scene, answer
from handlers.context import BotContext
from handlers.i18n import _, current_language, language, ngettext, set_language
from handlers.staff import authorized, refusal
from models import moderation as mod
from models.masking import Kind, render
from models.moderation import ItemView, Reason, Status
from models.roles import Role

logger = logging.getLogger(__name__)

# Telegram shows at most 4096 characters; the question may take 1000 and the title 200.
TEXT_SHOWN = 2500

# Button choices: a decision and, for rejections, the reason.
DECISIONS: dict[str, tuple[Status, Reason | None]] = {
    "approve": (Status.APPROVED, None),
    "flag": (Status.FLAGGED, None),
    **{reason.value: (Status.REJECTED, reason) for reason in Reason},
}
SWITCHES = ("reasons", "back")


# ---------------------------------------------------------------------------- rendering


def kind_label(kind: Kind) -> str:
    """What a kind of personal data is called, in the reader's language."""
    return {
        Kind.NATIONAL_ID: _("national identity number"),
        Kind.D_NUMBER: _("D-number"),
        Kind.PHONE: _("phone number"),
        Kind.EMAIL: _("e-mail address"),
    }[kind]


def reason_label(reason: Reason) -> str:
    """A reject reason, in the reader's language."""
    return {
        Reason.PERSONAL_DATA: _("Personal data"),
        Reason.OFFENSIVE: _("Offensive"),
        Reason.SPAM: _("Spam"),
        Reason.OFF_TOPIC: _("Off topic"),
    }[reason]


def decision_label(item: ItemView) -> str:
    """The decision on a text: "Approved", "Rejected: spam", "Flagged for staff"."""
    if item.status is Status.APPROVED:
        return "✅ " + _("Approved")
    if item.status is Status.FLAGGED:
        return "⚑ " + _("Flagged for staff")
    if item.status is Status.REJECTED:
        reason = reason_label(item.reason).lower() if item.reason else ""
        return "🚫 " + _("Rejected: {reason}").format(reason=reason)
    return _("Waiting for review")


def queue_line(queue: int) -> str:
    """How many texts wait, always shown."""
    return "📥 " + ngettext("{n} text waiting", "{n} texts waiting", queue).format(n=queue)


def shown_text(item: ItemView) -> str:
    """The text as moderators see it: personal data replaced by labels, escaped, shortened."""
    plain = render(item.parts, lambda kind: f"[{kind_label(kind)}]")
    if len(plain) > TEXT_SHOWN:
        plain = plain[:TEXT_SHOWN] + "… " + _("(shortened)")
    return escape(plain)


def card(item: ItemView, queue: int, heading: str) -> str:
    """The message about one text: heading, where it was written, the text, markers, queue."""
    reader = current_language()
    lines = [
        heading,
        f"<b>{escape(item.title(reader))}</b>",
        f"<i>{escape(item.question(reader))}</i>",
        f"<blockquote>{shown_text(item)}</blockquote>",
    ]
    if item.personal_data:
        kinds = ", ".join(sorted(kind_label(k) for k in item.personal_data))
        lines.append("⚠️ " + _("Personal data hidden: {kinds}").format(kinds=kinds))
    if item.abusive:
        lines.append("⚠️ " + _("May contain abusive language"))
    lines.append(queue_line(queue))
    return "\n".join(lines)


def decide_keyboard(item: ItemView) -> InlineKeyboardMarkup:
    """Approve, reject (then a reason), flag for staff."""

    def button(label: str, choice: str) -> InlineKeyboardButton:
        return InlineKeyboardButton(
            label, callback_data=cb.Moderate(item.id, item.version, choice).pack()
        )

    return InlineKeyboardMarkup(
        [
            [button("✅ " + _("Approve"), "approve"), button("🚫 " + _("Reject…"), "reasons")],
            [button("⚑ " + _("Flag for staff"), "flag")],
        ]
    )


def reasons_keyboard(item: ItemView) -> InlineKeyboardMarkup:
    """The reasons to reject, and a way back."""

    def button(reason: Reason) -> InlineKeyboardButton:
        return InlineKeyboardButton(
            reason_label(reason),
            callback_data=cb.Moderate(item.id, item.version, reason.value).pack(),
        )

    back = InlineKeyboardButton(
        "◀ " + _("Back"), callback_data=cb.Moderate(item.id, item.version, "back").pack()
    )
    return InlineKeyboardMarkup(
        [
            [button(Reason.PERSONAL_DATA), button(Reason.OFFENSIVE)],
            [button(Reason.SPAM), button(Reason.OFF_TOPIC)],
            [back],
        ]
    )


def undo_keyboard(item: ItemView) -> InlineKeyboardMarkup:
    """A way to take the decision back (it works for the moderator who took it)."""
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    "↩ " + _("Undo"), callback_data=cb.UndoDecision(item.id, item.version).pack()
                )
            ]
        ]
    )


def pending_heading(*, in_group: bool) -> str:
    """The first line of a text waiting for a decision."""
    return "📝 <b>" + (_("New text") if in_group else _("Text to review")) + "</b>"


def decided_heading(item: ItemView, by: str) -> str:
    """The first line of a decided text: the decision and who took it."""
    return f"<b>{decision_label(item)}</b> · {by}"


def pending_message(item: ItemView, queue: int, *, in_group: bool) -> Outgoing:
    """A text waiting for a decision, with its buttons."""
    return Outgoing(card(item, queue, pending_heading(in_group=in_group)), decide_keyboard(item))


def decided_message(item: ItemView, queue: int, by: str, *, undo: bool) -> Outgoing:
    """A decided text, with the undo button when the reader may use it."""
    return Outgoing(
        card(item, queue, decided_heading(item, by)), undo_keyboard(item) if undo else None
    )


def gone_message() -> Outgoing:
    """In place of a text that no longer exists."""
    return Outgoing("🗑 " + _("This text no longer exists: its writer deleted or changed it."))


def empty_queue(queue: int) -> Outgoing:
    """When nothing waits for this moderator (the rest may be with other moderators)."""
    if not queue:
        return Outgoing(_("Nothing is waiting for review. Thank you!") + "\n" + queue_line(0))
    return Outgoing(
        _(
            "The texts still waiting are being looked at by other moderators right now. "
            "Send /review again in a few minutes."
        )
        + "\n"
        + queue_line(queue)
    )


def _in_group(update: Update) -> bool:
    chat = update.effective_chat
    return chat is not None and chat.type != ChatType.PRIVATE


def _who(update: Update, item: ItemView, moderator: int, *, in_group: bool) -> str:
    """Who decided, as the readers of this chat should see it."""
    if item.decided_by != moderator:
        return _("by another moderator")
    if not in_group:
        return _("by you")
    user = update.effective_user
    # The moderator's own first name, shown to the other moderators in the group; it is not
    # stored anywhere.
    name = user.first_name if user is not None and user.first_name else ""
    return _("by {name}").format(name=escape(name)) if name else _("by a moderator")


def _not_moderator(update: Update) -> Reply:
    if _in_group(update):
        return Reply(notice=_("Only moderators can decide on texts."))
    return refusal(update)


def _data(update: Update) -> str | None:
    return update.callback_query.data if update.callback_query else None


# ---------------------------------------------------------------------------- private review


async def _next(session: AsyncSession, moderator: int, now: datetime) -> Outgoing:
    item = await mod.next_for(session, moderator, now)
    queue = await mod.queue_size(session)
    if item is None:
        return empty_queue(queue)
    return pending_message(item, queue, in_group=False)


async def review(update: Update, context: BotContext) -> None:
    """Show a moderator the next text waiting for review."""
    user = update.effective_user
    assert user is not None

    async def action(scene: Scene) -> Reply:
        session = scene.session
        now = scene.now
        if not await authorized(session, update, context, Role.MODERATOR, "/review"):
            return refusal(update)
        return Reply(send=[await _next(session, user.id, now)])

    await answer(update, context, action)


# ---------------------------------------------------------------------------- decisions


class _After:
    """What to do once the decision committed: refresh the group's message about the text."""

    def __init__(self) -> None:
        self.item: ItemView | None = None
        self.queue = 0


async def on_moderate(update: Update, context: BotContext) -> None:
    """Decide on a text with a button, or switch between decisions and reject reasons."""
    data = cb.Moderate.unpack(_data(update))
    if data.choice not in DECISIONS and data.choice not in SWITCHES:
        raise cb.InvalidCallback("unknown moderation choice")
    user = update.effective_user
    assert user is not None
    moderator = user.id
    in_group = _in_group(update)
    after = _After()

    async def action(scene: Scene) -> Reply:
        session = scene.session
        now = scene.now
        if in_group:
            # The group's messages are in the installation's language, whoever presses.
            set_language(context.runtime.default_language)
        if not await authorized(session, update, context, Role.MODERATOR, "moderation.decide"):
            return _not_moderator(update)
        if data.choice in SWITCHES:
            return await _switch(session, data, moderator, update, now)
        status, reason = DECISIONS[data.choice]
        try:
            item = await mod.decide(
                session, data.item_id, data.version, moderator, status, now, reason
            )
        except mod.ModerationError as error:
            return await _conflict(session, update, error, moderator, now, in_group=in_group)
        queue = await mod.queue_size(session)
        by = _who(update, item, moderator, in_group=in_group)
        reply = Reply(
            edit=decided_message(item, queue, by, undo=True), notice=decision_label(item)
        )
        if not in_group:
            reply.send.append(await _next(session, moderator, now))
            after.item, after.queue = item, queue
        return reply

    await answer(update, context, action)
    await _refresh_group_message(context, after)


async def _switch(
    session: AsyncSession, data: cb.Moderate, moderator: int, update: Update, now: datetime
) -> Reply:
    """Show the reject reasons, or the decisions again, on a text still waiting."""
    in_group = _in_group(update)
    item = await mod.load_item(session, data.item_id)
    if item is None:
        return await _conflict(session, update, mod.ItemGone(), moderator, now, in_group=in_group)
    if item.version != data.version:
        error = mod.TextChanged(item) if item.pending else mod.AlreadyDecided(item)
        return await _conflict(session, update, error, moderator, now, in_group=in_group)
    keyboard = reasons_keyboard(item) if data.choice == "reasons" else decide_keyboard(item)
    # Only the buttons change; the text is rendered again with the queue as it is now.
    queue = await mod.queue_size(session)
    return Reply(edit=Outgoing(card(item, queue, pending_heading(in_group=in_group)), keyboard))


async def _conflict(
    session: AsyncSession,
    update: Update,
    error: mod.ModerationError,
    moderator: int,
    now: datetime,
    *,
    in_group: bool,
) -> Reply:
    """Tell the moderator why nothing was stored and show the text as it is now."""
    queue = await mod.queue_size(session)
    if isinstance(error, mod.ItemGone):
        reply = Reply(edit=gone_message(), notice=_("This text no longer exists."))
    elif isinstance(error, mod.TextChanged):
        if in_group:
            # The new version gets a message of its own in the group, like any new text.
            return Reply(
                edit=Outgoing(
                    "✏️ " + _("Its writer changed this text. The new version waits in the queue.")
                ),
                notice=_("The writer changed this text."),
            )
        # In a private review the new version is shown in place, to decide on.
        return Reply(
            edit=pending_message(error.item, queue, in_group=False),
            notice=_("The writer changed this text. Here is the new version."),
        )
    else:
        assert isinstance(error, mod.Conflict)
        item = error.item
        mine = item.decided_by == moderator
        notice = (
            _("You already decided on this text.")
            if mine
            else _("Another moderator already decided on this text.")
        )
        if in_group and not mine:
            # The group's message already shows the decision, named by whoever took it;
            # rendering it again from this moderator's view would lose that name.
            return Reply(notice=notice)
        by = _who(update, item, moderator, in_group=in_group)
        reply = Reply(edit=decided_message(item, queue, by, undo=mine or in_group), notice=notice)
    if not in_group:
        reply.send.append(await _next(session, moderator, now))
    return reply


async def on_undo(update: Update, context: BotContext) -> None:
    """Take back one's own decision: the text waits again, with its buttons."""
    data = cb.UndoDecision.unpack(_data(update))
    user = update.effective_user
    assert user is not None
    moderator = user.id
    in_group = _in_group(update)
    after = _After()

    async def action(scene: Scene) -> Reply:
        session = scene.session
        now = scene.now
        if in_group:
            set_language(context.runtime.default_language)
        if not await authorized(session, update, context, Role.MODERATOR, "moderation.undo"):
            return _not_moderator(update)
        try:
            item = await mod.undo(session, data.item_id, data.version, moderator, now)
        except mod.ItemGone:
            return Reply(edit=gone_message(), notice=_("This text no longer exists."))
        except mod.NotUndoable as error:
            return await _not_undoable(session, update, error.item, moderator, in_group=in_group)
        queue = await mod.queue_size(session)
        if not in_group:
            after.item, after.queue = item, queue
        return Reply(
            edit=pending_message(item, queue, in_group=in_group),
            notice=_("Undone. The text is waiting for a decision again."),
        )

    await answer(update, context, action)
    await _refresh_group_message(context, after)


async def _not_undoable(
    session: AsyncSession, update: Update, item: ItemView, moderator: int, *, in_group: bool
) -> Reply:
    queue = await mod.queue_size(session)
    if item.pending:
        return Reply(
            edit=pending_message(item, queue, in_group=in_group),
            notice=_("There is no decision to undo: the text is waiting for one."),
        )
    if item.decided_by != moderator:
        notice = _("Only the moderator who decided can undo it.")
        if in_group:
            return Reply(notice=notice)  # the message shows the decider's name: keep it
    else:
        notice = _("This decision has changed since. Here it is as it is now.")
    by = _who(update, item, moderator, in_group=in_group)
    return Reply(
        edit=decided_message(item, queue, by, undo=in_group or item.decided_by == moderator),
        notice=notice,
    )


async def _refresh_group_message(context: BotContext, after: _After) -> None:
    """Show a decision taken in a private review on the group's message about the text too."""
    item = after.item
    if item is None or item.group_chat_id is None or item.group_message_id is None:
        return
    with language(context.runtime.default_language):
        if item.pending:
            message = pending_message(item, after.queue, in_group=True)
        else:
            message = decided_message(item, after.queue, _("by a moderator"), undo=True)
    try:
        await context.bot.edit_message_text(
            message.text,
            chat_id=item.group_chat_id,
            message_id=item.group_message_id,
            parse_mode=ParseMode.HTML,
            reply_markup=message.keyboard,
        )
    except TelegramError as error:
        # The group's message stays as it was; its buttons still answer correctly.
        logger.info("Could not update the moderation group's message: %s", type(error).__name__)


# ---------------------------------------------------------------------------- the group


async def moderation_group(update: Update, context: BotContext) -> None:
    """``/moderationgroup`` in a group: admins make it the moderation group (``off`` stops)."""
    chat = update.effective_chat
    user = update.effective_user
    assert chat is not None
    assert user is not None
    in_group = _in_group(update)
    args = list(context.args or [])
    stop = bool(args) and args[0].lower() in ("off", "av", "stop")

    async def action(scene: Scene) -> Reply:
        session = scene.session
        now = scene.now
        if not await authorized(session, update, context, Role.ADMIN, "/moderationgroup"):
            # The same as any other command in a group: it reveals nothing.
            if in_group:
                return Reply(send=[Outgoing(_("Please write to me in a private chat."))])
            return refusal(update)
        if not in_group:
            return Reply(
                send=[
                    Outgoing(
                        _(
                            "Add me to the moderators' group chat and send /moderationgroup "
                            "there. New written answers will then be posted in that group."
                        )
                    )
                ]
            )
        with language(context.runtime.default_language):
            if stop:
                if await mod.unregister_group(session, chat.id, user.id, now):
                    text = _("This group no longer gets new texts. Moderators can use /review.")
                else:
                    text = _("This group is not the moderation group.")
                return Reply(send=[Outgoing(text)])
            await mod.register_group(session, chat.id, user.id, now)
            waiting = await mod.queue_size(session)
            text = _(
                "This is now the moderation group. New written answers are posted here "
                "as they arrive; any moderator can decide with the buttons. Who wrote a "
                "text is never shown. Send /moderationgroup off to stop."
            )
            if waiting:
                text += "\n" + ngettext(
                    "{n} text is already waiting: moderators can review it with /review in a "
                    "private chat with me.",
                    "{n} texts are already waiting: moderators can review them with /review in "
                    "a private chat with me.",
                    waiting,
                ).format(n=waiting)
        return Reply(send=[Outgoing(text)])

    await answer(update, context, action)


async def after_text(update: Update, context: BotContext) -> None:
    """After a typed message was handled (and committed): post any new text to the group."""
    if context.job_queue is not None:
        context.job_queue.run_once(announce_job, 0, name="moderation-announce")  # type: ignore[arg-type]


async def announce_job(context: BotContext) -> None:
    """Post new texts to the moderation group (a job: after typed answers, and on the tick)."""
    await announce(context)


async def announce(context: BotContext) -> int:
    """Post the texts that arrived since the last round to the moderation group; return how many.

    The texts are claimed in one transaction, sent, and the sent messages recorded in another;
    a text whose message could not be sent is released for the next round.
    """
    runtime = context.runtime
    lock = runtime.transaction_lock or contextlib.nullcontext()
    async with lock, runtime.sessionmaker() as session, session.begin():
        group = await mod.moderation_group(session)
        if group is None:
            return 0
        claimed = await mod.claim_for_group(session, group, runtime.clock())
        queue = await mod.queue_size(session)
    if not claimed:
        return 0
    chat_id = group.chat_id
    sent: list[tuple[ItemView, int]] = []
    unsent: list[int] = []
    lost = False
    migrated_to: int | None = None
    with language(runtime.default_language):
        for index, item in enumerate(claimed):
            message = pending_message(item, queue, in_group=True)
            try:
                posted = await context.bot.send_message(
                    chat_id, message.text, parse_mode=ParseMode.HTML, reply_markup=message.keyboard
                )
            except TelegramError as error:
                unsent = [i.id for i in claimed[index:]]
                if isinstance(error, ChatMigrated):
                    migrated_to = error.new_chat_id
                elif isinstance(error, Forbidden):
                    lost = True
                logger.warning("Posting to the moderation group failed: %s", type(error).__name__)
                break
            sent.append((item, posted.message_id))
    async with lock, runtime.sessionmaker() as session, session.begin():
        now = runtime.clock()
        for item, message_id in sent:
            await mod.record_post(session, item.id, item.version, chat_id, message_id)
        await mod.release_posts(session, unsent)
        if migrated_to is not None:
            # The group became a supergroup with a new id: keep posting there.
            await mod.move_group(session, chat_id, migrated_to, now)
        elif lost:
            # The bot was removed from the group; texts wait in /review instead.
            await mod.unregister_group(session, chat_id, None, now, lost=True)
    return len(sent)
