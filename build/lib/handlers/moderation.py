"""Moderators review free texts: ``/review`` in a private chat, and the moderation group.

What moderators are shown is rendered by :mod:`handlers.views.moderation` from
:class:`models.moderation.ItemView` only: nothing about who wrote a text is at hand here.

New texts are posted to the moderation group after the answer's transaction committed: a job
runs right after each typed message, and again on the scheduler's tick for anything a crash or
a Telegram error left unposted. The claim is on the text's own moderation row (``posted_at``),
so the durable state is in the database and a text is posted once.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from telegram import Bot, Update
from telegram.constants import ParseMode
from telegram.error import ChatMigrated, Forbidden, TelegramError

from handlers import callbacks as cb
from handlers.common import Reply, Scene, answer, callback_data, in_group
from handlers.context import BotContext, Runtime
from handlers.guards import requires
from handlers.i18n import language
from handlers.views import moderation as views
from handlers.views.outgoing import Outgoing
from models import moderation as mod
from models.moderation import ItemView, Reason, Status
from models.roles import Role

logger = logging.getLogger(__name__)

# Button choices: a decision and, for rejections, the reason.
DECISIONS: dict[str, tuple[Status, Reason | None]] = {
    "approve": (Status.APPROVED, None),
    "flag": (Status.FLAGGED, None),
    # "Another reason" asks for the moderator's words first (handlers/wizards/reason.py).
    **{reason.value: (Status.REJECTED, reason) for reason in Reason if reason != Reason.OTHER},
}
SWITCHES = ("reasons", "back")

#: A text decided in a private review, and the queue then: its group message is refreshed.
Refresh = tuple[ItemView, int]


@dataclass(frozen=True)
class Moderator:
    """Who presses a moderation button, and where: a group's readers see the decider's name."""

    id: int
    # The moderator's own first name, shown to the other moderators in the group; it is not
    # stored anywhere.
    name: str
    in_group: bool


def _moderator(update: Update) -> Moderator:
    user = update.effective_user
    assert user is not None
    return Moderator(user.id, user.first_name or "", in_group(update))


def _by(item: ItemView, moderator: Moderator) -> str:
    return views.who(item, moderator.id, moderator.name, in_group=moderator.in_group)


async def next_text(scene: Scene) -> Outgoing:
    """The next text for this moderator, or why there is none."""
    item = await mod.next_for(scene.session, scene.user_id, scene.now)
    queue = await mod.queue_size(scene.session)
    if item is None:
        return views.empty_queue(queue)
    return views.pending_message(item, queue, in_group=False)


# ---------------------------------------------------------------------------- private review


@requires(Role.MODERATOR, "/review")
async def review(update: Update, context: BotContext) -> None:
    """Show a moderator the next text waiting for review."""
    await answer(update, context, _review)


async def _review(scene: Scene) -> Reply:
    return Reply(send=[await next_text(scene)])


# ---------------------------------------------------------------------------- decisions

Press = Callable[[Scene, Moderator, list[Refresh]], Awaitable[Reply]]


async def _press(update: Update, context: BotContext, act: Press) -> None:
    """Take a moderator's button; once committed, refresh the group's message about the text."""
    moderator = _moderator(update)
    after: list[Refresh] = []
    await answer(update, context, lambda scene: act(scene, moderator, after))
    await _refresh_group_message(context, after)


@requires(Role.MODERATOR, "moderation.decide", group_notice=views.only_moderators)
async def on_moderate(update: Update, context: BotContext) -> None:
    """Decide on a text with a button, or switch between decisions and reject reasons."""
    data = cb.Moderate.unpack(callback_data(update))
    if data.choice not in DECISIONS and data.choice not in SWITCHES:
        raise cb.InvalidCallback("unknown moderation choice")
    await _press(update, context, lambda scene, who, after: _decide(scene, data, who, after))


async def _decide(
    scene: Scene, data: cb.Moderate, moderator: Moderator, after: list[Refresh]
) -> Reply:
    """Store the decision; show it, and in a private review the next text."""
    if data.choice in SWITCHES:
        return await _switch(scene, data, moderator)
    status, reason = DECISIONS[data.choice]
    try:
        item = await mod.decide(
            scene.session, data.item_id, data.version, moderator.id, status, scene.now, reason
        )
    except mod.ModerationError as error:
        return await _conflict(scene, error, moderator)
    queue = await mod.queue_size(scene.session)
    decided = views.decided_message(item, queue, _by(item, moderator), undo=True)
    reply = Reply(edit=decided, notice=views.decision_label(item))
    if not moderator.in_group:
        reply.send.append(await next_text(scene))
        after.append((item, queue))
    return reply


async def _switch(scene: Scene, data: cb.Moderate, moderator: Moderator) -> Reply:
    """Show the reject reasons, or the decisions again, on a text still waiting."""
    item = await mod.load_item(scene.session, data.item_id)
    if item is None:
        return await _conflict(scene, mod.ItemGone(), moderator)
    if item.version != data.version:
        error = mod.TextChanged(item) if item.pending else mod.AlreadyDecided(item)
        return await _conflict(scene, error, moderator)
    # Only the buttons change; the text is rendered again with the queue as it is now.
    queue = await mod.queue_size(scene.session)
    reasons = data.choice == "reasons"
    return Reply(
        edit=views.switched_message(item, queue, reasons=reasons, in_group=moderator.in_group)
    )


async def _conflict(scene: Scene, error: mod.ModerationError, moderator: Moderator) -> Reply:
    """Tell the moderator why nothing was stored and show the text as it is now."""
    queue = await mod.queue_size(scene.session)
    if isinstance(error, mod.TextChanged):
        notice = views.changed_notice(in_group=moderator.in_group)
        if moderator.in_group:
            # The new version gets a message of its own in the group, like any new text.
            return Reply(edit=views.changed_in_group(), notice=notice)
        # In a private review the new version is shown in place, to decide on.
        return Reply(edit=views.pending_message(error.item, queue, in_group=False), notice=notice)
    if isinstance(error, mod.ItemGone):
        reply = Reply(edit=views.gone_message(), notice=views.text_gone())
    else:
        assert isinstance(error, mod.Conflict)
        mine = error.item.decided_by == moderator.id
        reply = _as_decided(error.item, queue, moderator, views.decided_before(mine=mine))
    if not moderator.in_group:
        reply.send.append(await next_text(scene))
    return reply


def _as_decided(item: ItemView, queue: int, moderator: Moderator, notice: str) -> Reply:
    """A decided text shown again as it is now, with the undo for who may use it."""
    mine = item.decided_by == moderator.id
    if moderator.in_group and not mine:
        # The group's message already shows the decision, named by whoever took it;
        # rendering it again from this moderator's view would lose that name.
        return Reply(notice=notice)
    by, undo = _by(item, moderator), mine or moderator.in_group
    return Reply(edit=views.decided_message(item, queue, by, undo=undo), notice=notice)


@requires(Role.MODERATOR, "moderation.undo", group_notice=views.only_moderators)
async def on_undo(update: Update, context: BotContext) -> None:
    """Take back one's own decision: the text waits again, with its buttons."""
    data = cb.UndoDecision.unpack(callback_data(update))
    await _press(update, context, lambda scene, who, after: _undo(scene, data, who, after))


async def _undo(
    scene: Scene, data: cb.UndoDecision, moderator: Moderator, after: list[Refresh]
) -> Reply:
    try:
        item = await mod.undo(scene.session, data.item_id, data.version, moderator.id, scene.now)
    except mod.ItemGone:
        return Reply(edit=views.gone_message(), notice=views.text_gone())
    except mod.NotUndoable as error:
        return await _not_undoable(scene, error.item, moderator)
    queue = await mod.queue_size(scene.session)
    if not moderator.in_group:
        after.append((item, queue))
    pending = views.pending_message(item, queue, in_group=moderator.in_group)
    return Reply(edit=pending, notice=views.undone())


async def _not_undoable(scene: Scene, item: ItemView, moderator: Moderator) -> Reply:
    queue = await mod.queue_size(scene.session)
    if item.pending:
        pending = views.pending_message(item, queue, in_group=moderator.in_group)
        return Reply(edit=pending, notice=views.nothing_to_undo())
    notice = views.not_yours_to_undo(mine=item.decided_by == moderator.id)
    return _as_decided(item, queue, moderator, notice)


async def _refresh_group_message(context: BotContext, after: list[Refresh]) -> None:
    """Show a decision taken in a private review on the group's message about the text too."""
    if not after:
        return
    item, queue = after[0]
    if item.group_chat_id is None or item.group_message_id is None:
        return
    with language(context.runtime.default_language):
        if item.pending:
            message = views.pending_message(item, queue, in_group=True)
        else:
            message = views.decided_message(item, queue, views.by_a_moderator(), undo=True)
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


@requires(Role.ADMIN, "/moderationgroup")
async def moderation_group(update: Update, context: BotContext) -> None:
    """``/moderationgroup`` in a group: admins make it the moderation group (``off`` stops)."""
    args = list(context.args or [])
    stop = bool(args) and args[0].lower() in ("off", "av", "stop")
    here = in_group(update)
    await answer(update, context, lambda scene: _set_group(scene, group=here, stop=stop))


async def _set_group(scene: Scene, *, group: bool, stop: bool) -> Reply:
    """Register or unregister the group; in a private chat, say how."""
    if not group:
        return Reply(send=[views.group_usage()])
    session, chat_id = scene.session, scene.chat_id
    if stop:
        was_it = await mod.unregister_group(session, chat_id, scene.user_id, scene.now)
        return Reply(send=[views.group_unregistered(was_it=was_it)])
    await mod.register_group(session, chat_id, scene.user_id, scene.now)
    return Reply(send=[views.group_registered(await mod.queue_size(session))])


async def after_text(update: Update, context: BotContext) -> None:
    """After a typed message was handled (and committed): post any new text to the group."""
    if context.job_queue is not None:
        context.job_queue.run_once(announce_job, 0, name="moderation-announce")  # type: ignore[arg-type]


async def announce_job(context: BotContext) -> None:
    """Post new texts to the moderation group (a job: after typed answers, and on the tick)."""
    await announce(context)


@dataclass
class _Posting:
    """What one round of posting claimed, and what became of it."""

    chat_id: int
    claimed: list[ItemView]
    queue: int
    sent: list[tuple[ItemView, int]] = field(default_factory=list)  # item, message id
    unsent: list[int] = field(default_factory=list)
    lost: bool = False  # the bot was removed from the group
    migrated_to: int | None = None  # the group became a supergroup with this id


async def announce(context: BotContext) -> int:
    """Post the texts that arrived since the last round to the moderation group; return how many.

    The texts are claimed in one transaction, sent, and the sent messages recorded in another;
    a text whose message could not be sent is released for the next round.
    """
    runtime = context.runtime
    posting = await _claim(runtime)
    if posting is None:
        return 0
    with language(runtime.default_language):
        await _post(context.bot, posting)
    await _record(runtime, posting)
    return len(posting.sent)


async def _claim(runtime: Runtime) -> _Posting | None:
    lock = runtime.transaction_lock or contextlib.nullcontext()
    async with lock, runtime.sessionmaker() as session, session.begin():
        group = await mod.moderation_group(session)
        if group is None:
            return None
        claimed = await mod.claim_for_group(session, group, runtime.clock())
        queue = await mod.queue_size(session)
    return _Posting(group.chat_id, claimed, queue) if claimed else None


async def _post(bot: Bot, posting: _Posting) -> None:
    """Send the claimed texts in order; stop at the first refusal and leave the rest unsent."""
    for index, item in enumerate(posting.claimed):
        message = views.pending_message(item, posting.queue, in_group=True)
        try:
            posted = await bot.send_message(
                posting.chat_id,
                message.text,
                parse_mode=ParseMode.HTML,
                reply_markup=message.keyboard,
            )
        except TelegramError as error:
            posting.unsent = [i.id for i in posting.claimed[index:]]
            if isinstance(error, ChatMigrated):
                posting.migrated_to = error.new_chat_id
            elif isinstance(error, Forbidden):
                posting.lost = True
            logger.warning("Posting to the moderation group failed: %s", type(error).__name__)
            return
        posting.sent.append((item, posted.message_id))


async def _record(runtime: Runtime, posting: _Posting) -> None:
    """Record the sent messages, release the unsent texts, and follow the group's fate."""
    lock = runtime.transaction_lock or contextlib.nullcontext()
    async with lock, runtime.sessionmaker() as session, session.begin():
        now = runtime.clock()
        for item, message_id in posting.sent:
            await mod.record_post(session, item.id, item.version, posting.chat_id, message_id)
        await mod.release_posts(session, posting.unsent)
        if posting.migrated_to is not None:
            # The group became a supergroup with a new id: keep posting there.
            await mod.move_group(session, posting.chat_id, posting.migrated_to, now)
        elif posting.lost:
            # The bot was removed from the group; texts wait in /review instead.
            await mod.unregister_group(session, posting.chat_id, None, now, lost=True)
