"""The wizard engine: every multi-step staff dialog is a table of steps, run by this module.

A wizard (one module per dialog in ``handlers/wizards/``) declares its steps in order: what
each step asks, the typed text or document it takes and how that is checked, its buttons, and
where each goes next. The engine keeps the person's place in the database
(:mod:`models.dialogs`), so a restart or another replica carries on, and gives every wizard:

- the role check on every update (refusals look like an unknown command and are audited),
- "◀ Back" (the step before) and "✖ Cancel" (the draft is forgotten),
- the text window: typed text goes to a dialog touched within :data:`TEXT_WINDOW` whose step
  takes text; after that, the person's typed messages are ordinary messages again.

A step function returns what happens next: :class:`Go` (to a named step, or the next one in
the table), :class:`End` (the dialog is over), or a :class:`handlers.common.Reply` (stay on the
step and answer, e.g. with what is wrong). Raising :class:`handlers.common.Abort` rolls the
update back, as everywhere.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

from sqlmodel.ext.asyncio.session import AsyncSession
from telegram import Update

from handlers import callbacks as cb
from handlers.common import Reply, Scene, answer, refusal
from handlers.context import BotContext
from handlers.guards import Requirement, permitted, required
from handlers.i18n import _
from handlers.views.outgoing import Outgoing
from models.dialogs import (
    Dialog,
    close_dialog,
    find_dialog,
    go_back,
    move,
    open_dialog,
    previous_step,
    recent_dialogs,
    step_param,
)

#: A dialog waits this long for the person's typed text; after that their typed messages are
#: answers to consultations again.
TEXT_WINDOW = timedelta(hours=1)

Subject = TypeVar("Subject")


@dataclass(frozen=True)
class Typed:
    """What a person typed: the plain text, and HTML with their formatting kept."""

    text: str
    html: str


@dataclass(frozen=True)
class Attachment:
    """A document a person sent; ``content`` when it was downloaded before the update's work."""

    file_id: str
    name: str
    size: int
    content: bytes | None = None


@dataclass
class Turn(Scene, Generic[Subject]):
    """A scene inside an open dialog: its subject (the draft) and the dialog row."""

    subject: Subject = None  # type: ignore[assignment]
    dialog: Dialog = None  # type: ignore[assignment]

    @property
    def param(self) -> str:
        """The step's parameter ("en" in "text:en"), or an empty string."""
        return step_param(self.dialog)

    @property
    def came_from(self) -> str | None:
        """The step before this one (without its parameter), if any."""
        before = previous_step(self.dialog)
        return before.partition(":")[0] if before else None


@dataclass
class Go:
    """Move to ``step`` (the next step in the table when None), first showing ``said``.

    After a button press the first message of ``said`` replaces the pressed message, and the
    rest and the step's question follow as new messages; after typed text all are sent.
    """

    step: str | None = None
    said: Outgoing | list[Outgoing] | None = None


@dataclass
class End:
    """The dialog is over (sent, published, saved, or it could not go on): answer ``reply``."""

    reply: Reply


Result = Go | End | Reply
Ask = Callable[[Turn[Subject]], Awaitable[Outgoing | list[Outgoing]]]
OnText = Callable[[Turn[Subject], Typed], Awaitable[Result]]
OnDocument = Callable[[Turn[Subject], Attachment], Awaitable[Result]]
OnButton = Callable[[Turn[Subject], str], Awaitable[Result]]
Opener = Callable[[Scene, int, str], Awaitable[Reply]]


@dataclass(frozen=True)
class Step(Generic[Subject]):
    """One step: what it asks, what typed input it takes, and its buttons by name."""

    ask: Ask[Subject]
    text: OnText[Subject] | None = None
    document: OnDocument[Subject] | None = None
    buttons: Mapping[str, OnButton[Subject]] = field(default_factory=dict)

    def takes(self, kind: str) -> bool:
        """Whether the step waits for typed ``text`` or a ``document``."""
        return (self.text if kind == "text" else self.document) is not None


@dataclass(frozen=True)
class Wizard(Generic[Subject]):
    """A multi-step dialog: its steps in order and how to find and forget its subject."""

    name: str  # in the dialog rows and the audit log ("broadcast.send")
    key: str  # in callback data, where bytes are scarce
    role: Any  # models.roles.Role
    steps: Mapping[str, Step[Subject]]
    # The answer when the dialog or its subject is gone ("This draft is no longer open…").
    gone: Callable[[], str]
    # The subject (a draft) by id, or None when it is no longer open; None for a wizard
    # without a subject.
    load: Callable[[AsyncSession, int], Awaitable[Subject | None]] | None = None
    # Whether "✖ Cancel" deletes the subject (a draft does; a text under review does not).
    cancel_deletes: bool = True
    # Starts the dialog from a button (``WizardStart``) or a command; see :func:`begin`.
    opener: Opener | None = None
    cancelled: Callable[[], str] = lambda: _("Cancelled. Nothing was sent.")

    def step(self, name: str) -> Step[Subject]:
        """The step called ``name`` (a parameter after a colon is ignored)."""
        return self.steps[name.partition(":")[0]]

    async def ask(self, turn: Turn[Subject]) -> list[Outgoing]:
        """The current step's question (again), as messages."""
        asked = await self.step(turn.dialog.step).ask(turn)
        return asked if isinstance(asked, list) else [asked]

    def after(self, name: str) -> str:
        """The step that follows ``name`` in the table."""
        order = list(self.steps)
        return order[order.index(name.partition(":")[0]) + 1]

    def opening(self, ref: int, arg: str = "") -> cb.WizardStart:
        """Callback data for a button that opens this wizard about ``ref``."""
        return cb.WizardStart(self.key, ref, arg)

    def button(self, subject_id: int, choice: str, arg: str = "") -> cb.WizardButton:
        """Callback data for a button of this wizard."""
        return cb.WizardButton(self.key, subject_id, choice, arg)

    def requirement(self, action: str) -> Requirement:
        """What acting on this wizard requires; ``action`` names it in the audit log."""
        return Requirement(self.role, f"{self.name}.{action}")


_BY_KEY: dict[str, Wizard[Any]] = {}
_BY_NAME: dict[str, Wizard[Any]] = {}


def register(wizard: Wizard[Any]) -> None:
    """Make ``wizard`` reachable from its buttons and its dialogs."""
    _BY_KEY[wizard.key] = wizard
    _BY_NAME[wizard.name] = wizard


def unregister(wizard: Wizard[Any]) -> None:
    """Forget ``wizard`` (tests that declare their own)."""
    _BY_KEY.pop(wizard.key, None)
    _BY_NAME.pop(wizard.name, None)


# ---------------------------------------------------------------------- starting


async def begin(
    wizard: Wizard[Subject],
    where: Scene,
    subject: Subject,
    subject_id: int | None,
    *,
    step: str | None = None,
    said: Outgoing | None = None,
) -> Reply:
    """Open a dialog about ``subject`` at ``step`` (the first by default) and ask it."""
    dialog = await _dialog(wizard, where, subject_id, step)
    turn = _turn(where, subject, dialog)
    return Reply(send=[said, *await wizard.ask(turn)] if said else await wizard.ask(turn))


def command(
    wizard: Wizard[Any], *, what: str
) -> Callable[[Update, BotContext], Coroutine[Any, Any, None]]:
    """A command handler that opens ``wizard``, giving it the whole message as its argument."""

    async def start(update: Update, context: BotContext) -> None:
        message = update.effective_message
        argument = message.text if message is not None and message.text else ""

        async def action(where: Scene) -> Reply:
            assert wizard.opener is not None
            return await wizard.opener(where, 0, argument)

        with required(Requirement(wizard.role, what)):
            await answer(update, context, action)

    start.__doc__ = f"``{what}``: start the {wizard.name} dialog."
    return start


async def on_start(update: Update, context: BotContext) -> None:
    """Open a wizard from a button (e.g. "📣 Broadcast" on a consultation in /manage)."""
    data = cb.WizardStart.unpack(update.callback_query.data if update.callback_query else None)
    wizard = _BY_KEY.get(data.wizard)
    if wizard is None or wizard.opener is None:
        raise cb.InvalidCallback("unknown wizard")
    opener = wizard.opener

    async def action(where: Scene) -> Reply:
        return await opener(where, data.ref, data.arg)

    with required(wizard.requirement("new")):
        await answer(update, context, action)


# ---------------------------------------------------------------------- buttons


async def on_button(update: Update, context: BotContext) -> None:
    """Act on a wizard's button: its own choices, or "back" and "drop" for every wizard."""
    query = update.callback_query
    data = cb.WizardButton.unpack(query.data if query else None)
    wizard = _BY_KEY.get(data.wizard)
    if wizard is None:
        raise cb.InvalidCallback("unknown wizard")

    async def action(where: Scene) -> Reply:
        turn = await _resume(wizard, where, data.subject or None)
        if turn is None:
            return Reply(notice=wizard.gone())
        turn.dialog.updated_at = where.now
        if data.choice == "drop":
            return await _drop(wizard, turn)
        if data.choice == "back":
            if not go_back(turn.dialog, where.now):
                return Reply(notice=_("That step is behind you."))
            return _shown(await wizard.ask(turn), pressed=True)
        handler = wizard.step(turn.dialog.step).buttons.get(data.choice)
        if handler is None:
            return Reply(notice=_("That step is behind you."))
        return await _settle(wizard, turn, await handler(turn, data.arg), pressed=True)

    with required(wizard.requirement(data.choice)):
        await answer(update, context, action)


async def _drop(wizard: Wizard[Subject], turn: Turn[Subject]) -> Reply:
    if wizard.cancel_deletes and turn.subject is not None:
        await turn.session.delete(turn.subject)
    await close_dialog(turn.session, turn.dialog)
    return Reply(edit=Outgoing(wizard.cancelled()))


# ---------------------------------------------------------------------- typed input


async def waiting(session: AsyncSession, user_id: int, now: datetime, kind: str) -> Dialog | None:
    """The person's newest dialog within the text window whose step takes ``kind`` of input.

    A dialog whose subject is gone (sent, or replaced by a newer draft) ends here.
    """
    for dialog in await recent_dialogs(session, user_id, since=now - TEXT_WINDOW):
        wizard = _BY_NAME.get(dialog.wizard)
        if wizard is None or not wizard.step(dialog.step).takes(kind):
            continue
        if wizard.load is not None and await wizard.load(session, dialog.subject_id or 0) is None:
            await close_dialog(session, dialog)
            continue
        return dialog
    return None


async def take(update: Update, where: Scene, dialog: Dialog, given: Typed | Attachment) -> Reply:
    """Give typed text or a document to the dialog waiting for it (the text router calls this)."""
    wizard = _BY_NAME[dialog.wizard]
    kind = "text" if isinstance(given, Typed) else "document"
    with required(wizard.requirement(kind)):
        if not await permitted(where.session, where.user_id, where.runtime, where.now):
            return refusal(update)
    turn = await _resume(wizard, where, dialog.subject_id, dialog)
    if turn is None:
        await close_dialog(where.session, dialog)
        return Reply(send=[Outgoing(wizard.gone())])
    dialog.updated_at = where.now
    step = wizard.step(dialog.step)
    if isinstance(given, Typed):
        assert step.text is not None
        result = await step.text(turn, given)
    else:
        assert step.document is not None
        result = await step.document(turn, given)
    return await _settle(wizard, turn, result, pressed=False)


async def start_with(
    wizard: Wizard[Any], update: Update, where: Scene, given: Typed | Attachment
) -> Reply:
    """Open a wizard without a subject at its first step and give it ``given`` at once."""
    return await take(update, where, await _dialog(wizard, where, None), given)


# ---------------------------------------------------------------------- the engine's core


async def _dialog(
    wizard: Wizard[Any], where: Scene, subject_id: int | None, step: str | None = None
) -> Dialog:
    """A new dialog of the acting person with ``wizard``, at ``step`` or the first."""
    return await open_dialog(
        where.session,
        user_id=where.user_id,
        chat_id=where.chat_id,
        wizard=wizard.name,
        subject_id=subject_id,
        step=step or next(iter(wizard.steps)),
        now=where.now,
    )


async def _resume(
    wizard: Wizard[Subject], where: Scene, subject_id: int | None, dialog: Dialog | None = None
) -> Turn[Subject] | None:
    """The person's open dialog about ``subject_id`` with its subject, or None when gone."""
    if dialog is None:
        dialog = await find_dialog(where.session, where.user_id, wizard.name, subject_id)
    if dialog is None:
        return None
    subject: Any = None
    if wizard.load is not None:
        subject = await wizard.load(where.session, subject_id or 0)
        if subject is None:
            return None
    return _turn(where, subject, dialog)


def _turn(where: Scene, subject: Subject, dialog: Dialog) -> Turn[Subject]:
    scene = {f.name: getattr(where, f.name) for f in fields(Scene)}
    return Turn(**scene, subject=subject, dialog=dialog)


async def _settle(
    wizard: Wizard[Subject], turn: Turn[Subject], result: Result, *, pressed: bool
) -> Reply:
    """Carry out a step's result: answer, end the dialog, or move and ask the next step."""
    if isinstance(result, Reply):
        return result
    if isinstance(result, End):
        await close_dialog(turn.session, turn.dialog)
        return result.reply
    target = result.step or wizard.after(turn.dialog.step)
    move(turn.dialog, target, turn.now)
    said = result.said if isinstance(result.said, list) else [result.said] if result.said else []
    return _shown([*said, *await wizard.ask(turn)], pressed=pressed, said=bool(said))


def _shown(messages: list[Outgoing], *, pressed: bool, said: bool = False) -> Reply:
    """How a step's messages reach the person.

    After a button press the first replaces the pressed message when something was said first
    or the step asks in one message; otherwise, and after typed text, all are sent.
    """
    if pressed and (said or len(messages) == 1):
        return Reply(edit=messages[0], send=messages[1:])
    return Reply(send=messages)
