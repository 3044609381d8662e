"""What staff see when they author a consultation: previews, what was saved, what is wrong."""

from __future__ import annotations

from html import escape

from telegram import InlineKeyboardMarkup

from handlers import callbacks as cb
from handlers.i18n import _
from handlers.views import consultation as render
from handlers.views.languages import reading
from handlers.views.outgoing import Outgoing, inert, row
from handlers.views.words import language_name
from models.consultation import ConsultationView
from models.consultation_file import MAX_FILE_BYTES
from models.response import Position, Response
from models.translation import complete_languages, coverage

# How many problems of a refused file are listed.
PROBLEMS_SHOWN = 30


def preview(view: ConsultationView) -> list[Outgoing]:
    """The consultation exactly as citizens see it, in each of its languages.

    The buttons look like the real ones but only say "preview" when pressed.
    """
    messages = [languages_line(view)]
    for code in view.consultation.languages:
        # The heading in the staff member's language, the consultation in the citizens'.
        messages.append(
            Outgoing(_("<b>Preview in {language}</b>").format(language=language_name(code)))
        )
        dummy = Response(participant_id=0, consultation_id=view.id, language=code)
        with reading(code):
            messages.append(render.intro_message(view))
            for question in view.questions:
                message = render.question_message(Position(view, dummy, {}, question))
                messages.append(Outgoing(message.text, inert(message.keyboard, view.id)))
    return messages


def languages_line(view: ConsultationView) -> Outgoing:
    """Which of the consultation's languages are complete; residents pick only those."""
    parts = []
    for code, found in coverage(view).items():
        if found.complete:
            parts.append(_("{language}: complete").format(language=language_name(code)))
        else:
            parts.append(
                _("{language}: {done} of {total} texts").format(
                    language=language_name(code), done=found.written, total=found.total
                )
            )
    lines = [_("<b>Languages</b>"), *(f"• {part}" for part in parts)]
    if len(complete_languages(view)) < len(view.consultation.languages):
        lines.append(
            _(
                "Residents can only choose a complete language. Translate the rest with "
                "<code>medvirk consultation translate {slug} --to LANGUAGE</code>."
            ).format(slug=view.consultation.slug)
        )
    return Outgoing("\n".join(lines))


def poll_preview(view: ConsultationView) -> list[Outgoing]:
    """A poll made with /newpoll as residents see it, labelled as a preview.

    A poll is written in one language; readers of others are offered it in that language.
    """
    code = view.consultation.languages[0]
    heading = _(
        "<b>Preview</b>: residents see the poll like this. It is in {language} only; residents "
        "who read another language are asked whether to answer it in {language}."
    ).format(language=language_name(code))
    dummy = Response(participant_id=0, consultation_id=view.id, language=code)
    with reading(code):
        message = render.question_message(Position(view, dummy, {}, view.questions[0]))
    return [Outgoing(heading), Outgoing(message.text, inert(message.keyboard, view.id))]


def saved(view: ConsultationView, *, created: bool) -> Outgoing:
    """What was stored, and the way to open it."""
    text = (_("Saved as a draft: {slug}.") if created else _("Updated: {slug}.")).format(
        slug=f"<code>{view.consultation.slug}</code>"
    )
    manage = row(_("⚙ Open, close, results"), cb.ManageOne(view.id))
    return Outgoing(
        text + "\n" + _("Nothing is sent to anyone until you open it."),
        InlineKeyboardMarkup([manage]),
    )


def file_problems(problems: list[str]) -> Outgoing:
    """Every problem of a refused file, by field path (the first thirty)."""
    listed = "\n".join(f"• {escape(p)}" for p in problems[:PROBLEMS_SHOWN])
    more = len(problems) - PROBLEMS_SHOWN
    if more > 0:
        listed += "\n" + _("…and {n} more.").format(n=more)
    return Outgoing(_("The file was not saved. Please fix these problems:") + "\n" + listed)


def not_yaml() -> Outgoing:
    """A file that is not a consultation file."""
    return Outgoing(
        _("Please send the consultation as a .yaml file. docs/consultation-format.md shows how.")
    )


def too_large() -> Outgoing:
    """A file over the size limit."""
    return Outgoing(
        _("That file is too large: at most {size} KB.").format(size=MAX_FILE_BYTES // 1024)
    )


def not_downloaded() -> Outgoing:
    """Telegram did not give the file."""
    return Outgoing(_("I could not download the file. Please send it again."))


def locked(keys: str) -> Outgoing:
    """An update that would change questions people have answered."""
    return Outgoing(
        _(
            "The file was not saved: people have already answered these questions, so they can "
            "no longer be changed: {keys}"
        ).format(keys=escape(keys))
    )


def new_poll_help() -> str:
    """How to write a poll with /newpoll."""
    return _(
        "Write /newpoll, the question on the same line, and each option on a line of its own "
        "(2 to 12 options). For example:\n"
        "<code>/newpoll Where should the new bench go?\nBy the playground\nBy the pond</code>"
    )


def poll_problem(code: str) -> Outgoing:
    """What is wrong with a poll, followed by how to write one."""
    problem = {
        "question": _("The poll needs a question."),
        "question_too_long": _("The question is too long: at most 300 characters."),
        "too_few_options": _("A poll needs at least 2 options."),
        "too_many_options": _("A poll can have at most 12 options."),
        "option_too_long": _("Each option can have at most 100 characters."),
        "duplicate_options": _("Two options are the same."),
    }[code]
    return Outgoing(problem + "\n\n" + new_poll_help())


def preview_only() -> str:
    """The toast of a button in a preview."""
    return _("This is a preview: the buttons do nothing here.")
