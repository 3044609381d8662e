"""What every handler shares: a reply to deliver, the language, the transaction per update."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
from collections.abc import Awaitable, Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

from sqlalchemy.exc import DataError
from sqlmodel.ext.asyncio.session import AsyncSession
from telegram import CallbackQuery, InputFile, Update
from telegram.constants import ChatType, ParseMode
from telegram.error import BadRequest, NetworkError

from handlers.context import BotContext, Runtime
from handlers.guards import permitted, requirement
from handlers.i18n import guess_language, set_language
from handlers.views import help as help_views
from handlers.views.outgoing import Outgoing, PollOut
from models.participant import Participant, find_participant, find_participant_and_consent, touch
from models.polls import record_poll
from models.updates import claim_update

logger = logging.getLogger(__name__)

T = TypeVar("T")

# A reply that failed on a 5xx or a timeout is tried this often in all, with a growing pause:
# the answer is already stored, so giving up would leave the person without their next step.
SEND_ATTEMPTS = 3
SEND_BACKOFF = 0.5

# The update whose claim this task has committed, so a handler that runs two transactions for
# one update does not take its own claim for a redelivery.
_claimed_update: ContextVar[int | None] = ContextVar("claimed_update", default=None)


class AnswerSlot:
    """Room for one Bot API call in the webhook's answer to the update (Telegram makes it).

    The webhook opens one (:func:`answer_in_response`) around each update; the reply puts the
    button's answer there instead of making a request of its own: one outbound request fewer
    per press. Telegram makes the call after our 200, which comes after the commit.
    """

    def __init__(self) -> None:
        """Start empty."""
        self.call: dict[str, object] | None = None


_answer_slot: ContextVar[AnswerSlot | None] = ContextVar("answer_slot", default=None)


@contextlib.contextmanager
def answer_in_response() -> Iterator[AnswerSlot]:
    """Let the updates handled in the block answer their button in the webhook's response."""
    slot = AnswerSlot()
    token = _answer_slot.set(slot)
    try:
        yield slot
    finally:
        _answer_slot.reset(token)


@dataclass
class Reply:
    """What the bot answers to one update, rendered inside the transaction, sent after it."""

    edit: Outgoing | None = None  # replaces the message the pressed button was on
    send: list[Outgoing] = field(default_factory=list)
    notice: str | None = None  # a short toast on a button press (a message otherwise)
    # A redelivered update whose first run committed: nothing was done, nothing is sent.
    handled_before: bool = False


class Abort(Exception):
    """Roll the transaction back and answer with ``reply``: nothing the update did is kept."""

    def __init__(self, reply: Reply) -> None:
        super().__init__("abort")
        self.reply = reply


@dataclass
class Scene:
    """One update's work: its transaction, the clock, who acts and where."""

    session: AsyncSession
    runtime: Runtime
    now: datetime
    user_id: int
    chat_id: int
    participant: Participant | None = None
    # The message whose button was pressed, when the update is a button press.
    message_id: int | None = None
    # The bot's username, for full t.me links ("" before the bot knows it).
    bot_username: str = ""


Action = Callable[[Scene], Awaitable[Reply]]


async def run(update: Update, context: BotContext, action: Action) -> Reply:
    """Run ``action`` in one transaction with the sender's participant row (or None).

    Sets the reply language first: the stored choice, else Telegram's language code, else
    the default. The reply is rendered inside the transaction, while rows are loaded, and
    returned to be sent after the commit: a person never sees a step that was not stored.

    The transaction first claims the update (:func:`models.updates.claim_update`): an update
    Telegram delivers again after its first run committed returns a reply with
    ``handled_before`` set and changes nothing. A refused (``Abort``) or failed run keeps no
    claim, so a redelivery runs it again.
    """
    runtime = context.runtime
    user = update.effective_user
    assert user is not None
    set_language(guess_language(user.language_code, runtime.default_language))
    lock = runtime.transaction_lock or contextlib.nullcontext()
    try:
        async with lock, runtime.sessionmaker() as session, session.begin():
            now = runtime.clock()
            if not await _claim(session, update, now):
                logger.info("Update %s was handled before; ignored", update.update_id)
                return Reply(handled_before=True)
            participant = await find_participant_and_consent(session, user.id)
            if participant is not None:
                touch(participant, runtime.clock())
                if participant.language:
                    set_language(participant.language)
            if in_group(update):
                # A group's messages are in the installation's language, whoever writes.
                set_language(runtime.default_language)
            if not await permitted(session, user.id, runtime, now):
                return refusal(update)
            scene = _scene(update, session, runtime, now, participant)
            scene.bot_username = _username(context)
            reply = await action(scene)
    except Abort as abort:
        return abort.reply
    _claimed_update.set(update.update_id)
    return reply


def _scene(
    update: Update,
    session: AsyncSession,
    runtime: Runtime,
    now: datetime,
    participant: Participant | None,
) -> Scene:
    user = update.effective_user
    assert user is not None
    query = update.callback_query
    return Scene(
        session=session,
        runtime=runtime,
        now=now,
        user_id=user.id,
        # A poll answer has no chat; in a private chat the chat id is the user id.
        chat_id=update.effective_chat.id if update.effective_chat else user.id,
        participant=participant,
        message_id=query.message.message_id if query and query.message else None,
    )


def _username(context: BotContext) -> str:
    """The bot's username, known once the bot was initialised (getMe)."""
    try:
        return context.bot.username or ""
    except RuntimeError:  # not initialised: only in tests that build updates by hand
        return ""


async def speak_their_language(update: Update, context: BotContext) -> None:
    """Write in the person's language for a reply made outside :func:`run`.

    A toast for a button nobody handles, an error: the stored choice, else Telegram's language
    code, else the default, as :func:`run` decides; in a group, the installation's language.
    """
    runtime = context.runtime
    user = update.effective_user
    set_language(guess_language(user.language_code if user else None, runtime.default_language))
    if in_group(update):
        set_language(runtime.default_language)
        return
    if user is None:
        return
    try:
        async with runtime.sessionmaker() as session:
            person = await find_participant(session, user.id)
    except Exception:  # an apology in the guessed language beats none at all
        logger.warning("Could not look up the language of a person", exc_info=True)
        return
    if person is not None and person.language:
        set_language(person.language)


def callback_data(update: Update) -> str | None:
    """The pressed button's data, for a callback data class to unpack."""
    return update.callback_query.data if update.callback_query else None


def in_group(update: Update) -> bool:
    """Whether the update comes from a group rather than a private chat."""
    chat = update.effective_chat
    return chat is not None and chat.type != ChatType.PRIVATE


def refusal(update: Update) -> Reply:
    """What someone without the role gets: the same as for an unknown command or button.

    It reveals nothing, not even that the command exists. In a group, where everyone sees the
    buttons, the handler's own notice says who may use them.
    """
    needed = requirement()
    if update.callback_query is not None:
        if in_group(update) and needed is not None and needed.group_notice is not None:
            return Reply(notice=needed.group_notice())
        return Reply(notice=help_views.stale_button())
    if in_group(update):
        # As for any command in a group: citizens talk to the bot in private.
        return Reply(send=[Outgoing(help_views.private_chat_please())])
    return Reply(send=[help_views.unknown_command()])


async def _claim(session: AsyncSession, update: Update, now: datetime) -> bool:
    if _claimed_update.get() == update.update_id:
        return True  # a second transaction of the same delivery
    return await claim_update(session, update.update_id, update_digest(update), now)


def is_permanent(error: BaseException | None) -> bool:
    """Whether an update's failure would happen again on every redelivery.

    The database refused a value (SQLSTATE class 22, "data exception": out of range, a
    character it cannot store) or the value could not even be sent to it (a number past 64
    bits, a lone surrogate): the same update fails the same way each time, so it is answered
    once and acknowledged, never handled again.
    """
    seen = 0
    while error is not None and seen < 8:
        if isinstance(error, DataError | OverflowError | UnicodeError):
            return True
        if str(getattr(error, "sqlstate", "") or "").startswith("22"):
            return True
        # Only explicit links: an exception merely raised while another was handled may be
        # unrelated to it, and a transient failure taken for a permanent one would lose an update.
        error = getattr(error, "orig", None) or error.__cause__
        seen += 1
    return False


async def remember_failure(update: Update, context: BotContext) -> None:
    """Claim an update that failed for good, so a redelivery does nothing (not even apologise)."""
    runtime = context.runtime
    lock = runtime.transaction_lock or contextlib.nullcontext()
    try:
        async with lock, runtime.sessionmaker() as session, session.begin():
            await claim_update(session, update.update_id, update_digest(update), runtime.clock())
    except Exception as error:  # the update is answered anyway; only a redelivery would repeat
        logger.warning(
            "Update %s: could not remember its failure (%s)",
            update.update_id,
            type(error).__name__,
        )


def update_digest(update: Update) -> str:
    """A short digest of an update's content, to tell a redelivery from a reused id."""
    content = json.dumps(update.to_dict(), sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.blake2b(content.encode(), digest_size=16).hexdigest()


async def deliver(update: Update, context: BotContext, reply: Reply) -> None:
    """Send a reply: answer the button, edit its message, send the rest.

    Each call is retried on a 5xx or a timeout (429 is retried by the rate limiter), so a
    Telegram hiccup does not strand the person after their answer was stored. A timed-out
    send may have arrived, so a retry can show a message twice; that beats losing it.
    """
    if reply.handled_before:
        return
    query = update.callback_query
    # A poll answer has no chat; in a private chat the chat id is the user id.
    chat_id = update.effective_chat.id if update.effective_chat else update.effective_user.id  # type: ignore[union-attr]
    if query is not None:
        slot = _answer_slot.get()
        if slot is not None and slot.call is None:
            slot.call = _button_answer(query.id, reply.notice)
        else:
            await answer_button(query, reply.notice)
    elif reply.notice:
        reply.send.insert(0, Outgoing(reply.notice))
    if query is not None and query.message is not None:
        await _edit(update, query, reply)
    for message in reply.send:
        if message.poll is not None:
            await _send_poll(context, chat_id, message.poll)
            continue
        await _retried(
            lambda message=message: context.bot.send_message(  # type: ignore[misc]
                chat_id,
                message.text,
                parse_mode=ParseMode.HTML,
                reply_markup=message.keyboard,
            )
        )


async def _edit(update: Update, query: CallbackQuery, reply: Reply) -> None:
    """Replace the pressed button's message; send the new content when it cannot be edited."""
    edit = reply.edit
    if edit is None:
        return
    try:
        await _retried(
            lambda: query.edit_message_text(
                edit.text, parse_mode=ParseMode.HTML, reply_markup=edit.keyboard
            )
        )
    except BadRequest as error:
        # Pressing the same button twice re-renders identical content; Telegram refuses.
        if "not modified" not in str(error).lower():
            # The message cannot be edited (gone, or not a text): the step is stored, so
            # show it as a new message rather than not at all.
            logger.info("Update %s: edit refused (%s); sent instead", update.update_id, error)
            reply.send.insert(0, edit)


def _button_answer(query_id: str, text: str | None) -> dict[str, object]:
    """answerCallbackQuery as a method call in the webhook's answer."""
    call: dict[str, object] = {"method": "answerCallbackQuery", "callback_query_id": query_id}
    if text:
        call["text"] = text
    return call


async def answer_button(query: CallbackQuery, text: str | None = None) -> None:
    """Answer a button press (with a toast), tolerating a press that was answered already.

    A retry after a timeout, or Telegram delivering the update again, finds the query
    answered or expired; the toast is lost, and nothing else is wrong.
    """
    try:
        await _retried(lambda: query.answer(text))
    except BadRequest as error:
        if "query is too old" not in str(error).lower():
            raise
        logger.info("A button press was answered already or too late")


async def _retried(call: Callable[[], Awaitable[T]]) -> T:
    """Make a Bot API call, again after a pause when Telegram answered 5xx or timed out."""
    for attempt in range(1, SEND_ATTEMPTS + 1):
        try:
            return await call()
        except NetworkError as error:  # 5xx and TimedOut; not BadRequest, a mistake of ours
            if isinstance(error, BadRequest) or attempt == SEND_ATTEMPTS:
                raise
            logger.warning(
                "Telegram call failed (%s), attempt %d of %d",
                type(error).__name__,
                attempt,
                SEND_ATTEMPTS,
            )
            await asyncio.sleep(SEND_BACKOFF * 2 ** (attempt - 1))
    raise AssertionError("unreachable")


async def _send_poll(context: BotContext, chat_id: int, poll: PollOut) -> None:
    """Send a native poll and remember it, so votes find their person after a restart."""
    sent = await context.bot.send_poll(
        chat_id,
        poll.question,
        poll.options,
        is_anonymous=False,  # the bot gets each person's vote only from non-anonymous polls
        allows_multiple_answers=poll.multiple,
    )
    assert sent.poll is not None
    runtime = context.runtime
    async with runtime.sessionmaker() as session, session.begin():
        await record_poll(
            session,
            poll.response_id,
            poll.question_id,
            poll_id=sent.poll.id,
            chat_id=chat_id,
            message_id=sent.message_id,
            now=runtime.clock(),
        )


def saying(message: Callable[[], Outgoing]) -> Action:
    """An action that only answers with ``message``, written in the person's language.

    It still runs in the update's transaction: the language is looked up there, and a
    redelivered update is answered once.
    """

    async def action(scene: Scene) -> Reply:
        return Reply(send=[message()])

    return action


async def answer(update: Update, context: BotContext, action: Action) -> None:
    """Run ``action`` in a transaction and deliver what it rendered."""
    await deliver(update, context, await run(update, context, action))


#: An action that may also make files (an export): it appends them to the list it is given.
FileAction = Callable[[Scene, list[InputFile]], Awaitable[Reply]]


async def answer_with_files(
    update: Update, context: BotContext, action: FileAction, caption: Callable[[], str]
) -> None:
    """Run ``action`` and deliver its reply; then send the files it made, each with ``caption``.

    The files go out after the commit, like every reply: an export whose transaction failed
    is not sent.
    """
    files: list[InputFile] = []
    reply = await run(update, context, lambda scene: action(scene, files))
    await deliver(update, context, reply)
    chat_id = update.effective_chat.id if update.effective_chat else 0
    for file in files:
        await context.bot.send_document(chat_id, file, caption=caption())
