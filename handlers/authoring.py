"""Staff author consultations in the chat: upload a file, or type a poll with /newpoll."""

from __future__ import annotations

import secrets
from html import escape

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import TelegramError

from handlers import callbacks as cb
from handlers import consult
from handlers.common import Outgoing, Reply, Scene, answer
from handlers.context import BotContext
from handlers.i18n import LANGUAGE_NAMES, _, language
from handlers.staff import authorized, refusal
from handlers.views import consultation as render
from models.consultation import (
    ConsultationView,
    ImportRefused,
    import_consultation,
    load_consultation,
)
from models.consultation_file import MAX_FILE_BYTES, ConsultationFileError, parse_consultation_file
from models.polls import PollProblem, poll_spec
from models.response import Position, Response
from models.roles import Role, audit, has_role

YAML_SUFFIXES = (".yaml", ".yml")


def preview(view: ConsultationView) -> list[Outgoing]:
    """The consultation exactly as citizens see it, in each of its languages.

    The buttons look like the real ones but only say "preview" when pressed.
    """
    messages: list[Outgoing] = []
    dummy = Response(participant_id=0, consultation_id=view.id)
    for code in view.consultation.languages:
        # The heading in the staff member's language, the consultation in the citizens'.
        messages.append(
            Outgoing(_("<b>Preview in {language}</b>").format(language=LANGUAGE_NAMES[code]))
        )
        with language(code):
            messages.append(render.intro_message(view))
            for question in view.questions:
                position = Position(view, dummy, {}, question)
                message = render.question_message(position)
                messages.append(Outgoing(message.text, _inert(message.keyboard, view.id)))
    return messages


def _inert(
    keyboard: InlineKeyboardMarkup | None, consultation_id: int
) -> InlineKeyboardMarkup | None:
    if keyboard is None:
        return None
    data = cb.PreviewOnly(consultation_id).pack()
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(b.text, callback_data=data) for b in row]
            for row in keyboard.inline_keyboard
        ]
    )


def _saved(view: ConsultationView, created: bool) -> Outgoing:
    text = (_("Saved as a draft: {slug}.") if created else _("Updated: {slug}.")).format(
        slug=f"<code>{view.consultation.slug}</code>"
    )
    keyboard = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    _("⚙ Open, close, results"), callback_data=cb.ManageOne(view.id).pack()
                )
            ]
        ]
    )
    return Outgoing(text + "\n" + _("Nothing is sent to anyone until you open it."), keyboard)


async def on_document(update: Update, context: BotContext) -> None:
    """Take a consultation file from staff; anyone else gets the answer to any attachment."""
    message = update.effective_message
    user = update.effective_user
    assert message is not None
    assert user is not None
    document = message.document
    assert document is not None
    runtime = context.runtime
    async with runtime.sessionmaker() as session:
        is_staff = await has_role(session, user.id, Role.STAFF, runtime.admin_ids)
    if not is_staff:
        await consult.on_attachment(update, context)
        return
    name = (document.file_name or "").lower()
    problem = None
    if not name.endswith(YAML_SUFFIXES):
        problem = _(
            "Please send the consultation as a .yaml file. docs/consultation-format.md shows how."
        )
    elif (document.file_size or 0) > MAX_FILE_BYTES:
        problem = _("That file is too large: at most {size} KB.").format(
            size=MAX_FILE_BYTES // 1024
        )
    data = b""
    if problem is None:
        try:
            file = await document.get_file()
            data = bytes(await file.download_as_bytearray())
        except TelegramError:
            problem = _("I could not download the file. Please send it again.")

    async def action(scene: Scene) -> Reply:
        session = scene.session
        now = scene.now
        if not await authorized(session, update, context, Role.STAFF, "upload"):
            return refusal(update)
        if problem is not None:
            return Reply(send=[Outgoing(problem)])
        try:
            spec = parse_consultation_file(data)
        except ConsultationFileError as error:
            listed = "\n".join(f"• {escape(p)}" for p in error.problems[:30])
            more = len(error.problems) - 30
            if more > 0:
                listed += "\n" + _("…and {n} more.").format(n=more)
            return Reply(
                send=[
                    Outgoing(
                        _("The file was not saved. Please fix these problems:") + "\n" + listed
                    )
                ]
            )
        try:
            consultation, created = await import_consultation(session, spec)
        except ImportRefused as error:
            return Reply(send=[Outgoing(_locked(", ".join(error.keys)))])
        await audit(session, user.id, "consultation.upload", consultation.slug, now=now)
        view = await load_consultation(session, consultation.id or 0)
        assert view is not None
        return Reply(send=[*preview(view), _saved(view, created)])

    await answer(update, context, action)


async def on_preview_button(update: Update, context: BotContext) -> None:
    """Say that preview buttons do nothing."""
    query = update.callback_query
    assert query is not None
    await query.answer(_("This is a preview: the buttons do nothing here."))


async def new_poll(update: Update, context: BotContext) -> None:
    """``/newpoll`` with the question on the first line and one option per line after it."""
    message = update.effective_message
    user = update.effective_user
    assert message is not None
    assert user is not None
    lines = [line.strip() for line in (message.text or "").splitlines()]
    question = lines[0].partition(" ")[2].strip() if lines else ""
    options = [line for line in lines[1:] if line]

    async def action(scene: Scene) -> Reply:
        session = scene.session
        participant = scene.participant
        now = scene.now
        if not await authorized(session, update, context, Role.STAFF, "/newpoll"):
            return refusal(update)
        if not question and not options:
            return Reply(send=[Outgoing(_new_poll_help())])
        code = (participant.language if participant else None) or context.runtime.default_language
        slug = f"poll-{now:%Y%m%d}-{secrets.token_hex(2)}"
        try:
            spec = poll_spec(slug, code, question, options)
        except PollProblem as error:
            return Reply(
                send=[Outgoing(_poll_problem(error.problems[0]) + "\n\n" + _new_poll_help())]
            )
        consultation, _created = await import_consultation(session, spec)
        await audit(session, user.id, "consultation.newpoll", consultation.slug, now=now)
        view = await load_consultation(session, consultation.id or 0)
        assert view is not None
        return Reply(send=[*preview(view)[1:], _saved(view, created=True)])

    await answer(update, context, action)


def _locked(keys: str) -> str:
    return _(
        "The file was not saved: people have already answered these questions, so they can no "
        "longer be changed: {keys}"
    ).format(keys=escape(keys))


def _new_poll_help() -> str:
    return _(
        "Write /newpoll, the question on the same line, and each option on a line of its own "
        "(2 to 12 options). For example:\n"
        "<code>/newpoll Where should the new bench go?\nBy the playground\nBy the pond</code>"
    )


def _poll_problem(code: str) -> str:
    return {
        "question": _("The poll needs a question."),
        "question_too_long": _("The question is too long: at most 300 characters."),
        "too_few_options": _("A poll needs at least 2 options."),
        "too_many_options": _("A poll can have at most 12 options."),
        "option_too_long": _("Each option can have at most 100 characters."),
        "duplicate_options": _("Two options are the same."),
    }[code]
