"""Consultations as a citizen sees them: the list, questions, answers, summaries, problems."""

from __future__ import annotations

import math
from datetime import timedelta
from html import escape

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from handlers import callbacks as cb
from handlers.i18n import _, current_language, ngettext, own_name
from handlers.views.help import stale_button
from handlers.views.languages import content_language, reading
from handlers.views.outgoing import Outgoing, PollOut, button, keyboard, row
from handlers.views.times import date_text, time_text
from handlers.views.words import language_name, shorten
from models.access_codes import CodeCheck
from models.base import localized
from models.consultation import Consultation, ConsultationView, QuestionView
from models.consultation_file import QuestionType
from models.polls import can_be_poll
from models.response import (
    AnswerRejected,
    AnswerValue,
    ChooseLanguage,
    ConsultationNotOpen,
    FlowError,
    InAnotherConsultation,
    NotInConsultation,
    Position,
    Problem,
    Response,
    StaleQuestion,
)
from models.translation import BUTTON_TEXT_MAX

# Buttons show this much of a text whole (models.translation tells translators the same).
# Six buttons fit a phone's width; a 0-10 scale takes two rows.
SCALE_ROW = 6


def text_of(view: ConsultationView, text: dict[str, str] | None) -> str:
    """A consultation text in the language being read (:func:`reading`), escaped for HTML."""
    return escape(localized(text, content_language(), view.consultation.languages[0]))


def response_language(position: Position) -> str:
    """The language a response is answered in: chosen when it was begun."""
    return position.response.language or position.view.consultation.languages[0]


def title_of(consultation: Consultation) -> str:
    """The title in the reader's language, escaped."""
    return escape(plain_title(consultation))


def plain_title(consultation: Consultation) -> str:
    """The title in the language being read, as plain text (for buttons and polls)."""
    return localized(consultation.title, content_language(), consultation.languages[0])


def short(text: str, limit: int = BUTTON_TEXT_MAX) -> str:
    """A text cut to fit on a button, between words, with an ellipsis when cut."""
    return shorten(text, limit)


def option_text(view: ConsultationView, question: QuestionView, option_id: int) -> str:
    """An option's label; yes/no options are translated by the UI."""
    option = question.option(option_id)
    if option is None:
        return "?"
    if question.type == QuestionType.YES_NO:
        return _("Yes") if option.key == "yes" else _("No")
    return text_of(view, option.text)


def answer_text(view: ConsultationView, question: QuestionView, value: AnswerValue | None) -> str:
    """How an answer reads in a summary."""
    if value is None or value.skipped:
        return _("(skipped)")
    if value.text is not None:
        return escape(value.text)
    if value.number is not None:
        return str(value.number)
    return ", ".join(option_text(view, question, o) for o in value.option_ids) or _("(skipped)")


# ---------------------------------------------------------------------- its language


def choose_language(unspoken: ChooseLanguage) -> Outgoing:
    """The consultation is not in the reader's language: its own, by their own names, to pick.

    Said in the reader's interface language; each button opens the consultation in one of its
    languages, carrying the deep link's source through.
    """
    consultation = unspoken.consultation
    names = [own_name(code) for code in unspoken.languages]
    reader = language_name(current_language())
    if len(names) == 1:
        question = _(
            "This consultation is not in {language}; it is only in {other}. Would you like to "
            "answer it in {other}?"
        ).format(language=reader, other=names[0])
    else:
        question = _(
            "This consultation is not in {language}. It is in: {languages}. Which language would "
            "you like to answer in?"
        ).format(language=reader, languages=", ".join(names))
    text = f"<b>{title_of(consultation)}</b>\n\n{question}"
    cid, source = consultation.id or 0, unspoken.source or ""
    buttons = [button(own_name(code), cb.ReadIn(cid, code, source)) for code in unspoken.languages]
    return Outgoing(
        text, InlineKeyboardMarkup([buttons[i : i + 2] for i in range(0, len(buttons), 2)])
    )


# ---------------------------------------------------------------------- the list


def consultation_label(consultation: Consultation, response: Response | None) -> str:
    """A consultation's button in the list, marked when started or answered."""
    title = plain_title(consultation)
    if response is None:
        return short(title)
    if response.completed_at is not None:
        return short("✓ " + title)
    return short("… " + title)


def consultation_list(
    consultations: list[Consultation], responses: dict[int, Response]
) -> Outgoing:
    """The open consultations as buttons, marked when started or answered."""
    if not consultations:
        return Outgoing(_("There are no open consultations right now. Please check again later."))
    rows = [
        row(
            consultation_label(c, responses.get(c.id or 0)),
            cb.OpenConsultation(c.id or 0),
        )
        for c in consultations
    ]
    return Outgoing(_("<b>Open consultations</b>\nChoose one:"), keyboard(*rows))


def opened(position: Position, *, first_time: bool) -> list[Outgoing]:
    """What opening a consultation shows: its intro and first question, or where one left off.

    All of it in the response's language, Medvirk's words included.
    """
    with reading(response_language(position)):
        return _opened(position, first_time=first_time)


def _opened(position: Position, *, first_time: bool) -> list[Outgoing]:
    if position.view.consultation.as_poll and can_be_poll(position.view):
        if position.at_summary:
            return [summary_message(position)]
        return [poll_message(position)]
    if first_time:
        # The intro stays in the chat to read again; the question's message moves on.
        return [intro_message(position.view), where_you_are(position)]
    if position.at_summary:
        return [summary_message(position)]
    return [welcome_back(position)]


def intro_message(view: ConsultationView) -> Outgoing:
    """The consultation's title and intro, shown once at its start."""
    parts = [f"<b>{text_of(view, view.consultation.title)}</b>"]
    if view.consultation.intro:
        parts.append(text_of(view, view.consultation.intro))
    parts.append(_("You can take a break with /cancel and continue later."))
    return Outgoing("\n\n".join(parts))


# ---------------------------------------------------------------------- one question


def _header(position: Position) -> str:
    number, total = position.progress()
    return f"<b>{text_of(position.view, position.view.consultation.title)}</b> · {number}/{total}"


def _hint(view: ConsultationView, question: QuestionView) -> str | None:
    q = question.question
    if question.type == QuestionType.MULTIPLE_CHOICE:
        if q.max_choices:
            return ngettext(
                "Choose one, then press Done.",
                "Choose up to {n}, then press Done.",
                q.max_choices,
            ).format(n=q.max_choices)
        return _("Choose all that fit, then press Done.")
    if question.type == QuestionType.SCALE:
        low = f"{q.scale_min} = {text_of(view, q.min_label)}" if q.min_label else None
        high = f"{q.scale_max} = {text_of(view, q.max_label)}" if q.max_label else None
        labels = ", ".join(part for part in (low, high) if part)
        hint = _("Press a number, or type one from {low} to {high}.").format(
            low=q.scale_min, high=q.scale_max
        )
        return f"{labels}. {hint}" if labels else hint
    if question.type == QuestionType.FREE_TEXT:
        return _("Write your answer in a message (at most {n} characters).").format(n=q.max_length)
    return None


def question_message(position: Position) -> Outgoing:
    """The message asking the current question, with its buttons, all in one language."""
    with reading(response_language(position)):
        return _question_message(position)


def _question_message(position: Position) -> Outgoing:
    question = position.question
    assert question is not None
    view = position.view
    parts = [_header(position), text_of(view, question.question.text)]
    hint = _hint(view, question)
    if hint:
        parts.append(f"<i>{hint}</i>")
    return Outgoing("\n\n".join(parts), _question_keyboard(position, question))


def poll_message(position: Position) -> Outgoing:
    """The current question as a native Telegram poll (plain text: polls take no HTML)."""
    question = position.question
    assert question is not None
    reader, first = response_language(position), position.view.consultation.languages[0]
    return Outgoing(
        "",
        poll=PollOut(
            question=localized(question.question.text, reader, first),
            options=[localized(o.text, reader, first) for o in question.options],
            multiple=question.type == QuestionType.MULTIPLE_CHOICE,
            response_id=position.response.id or 0,
            question_id=question.id,
        ),
    )


Rows = list[list[InlineKeyboardButton]]


def _option_rows(
    position: Position,
    question: QuestionView,
    chosen: set[int],
    marks: tuple[str, str],
    data: type[cb.Choose] | type[cb.Toggle],
) -> Rows:
    """One button per option, marked (``marks``: chosen, not chosen), pressing ``data``."""
    rows = []
    for option in question.options:
        mark = marks[0] if option.id in chosen else marks[1]
        label = short(mark + option_text(position.view, question, option.id or 0))
        rows.append(row(label, data(question.id, option.id or 0)))
    return rows


def _scale_rows(question: QuestionView, current: AnswerValue | None) -> Rows:
    low, high = question.question.scale_min or 0, question.question.scale_max or 0
    buttons = [
        button(f"[{v}]" if current and current.number == v else str(v), cb.Rate(question.id, v))
        for v in range(low, high + 1)
    ]
    return [buttons[i : i + SCALE_ROW] for i in range(0, len(buttons), SCALE_ROW)]


def _question_keyboard(position: Position, question: QuestionView) -> InlineKeyboardMarkup:
    current = position.answers.get(question.id)
    chosen = set(current.option_ids) if current else set()
    rows: Rows = []
    if question.type == QuestionType.SINGLE_CHOICE:
        rows = _option_rows(position, question, chosen, ("✓ ", ""), cb.Choose)
    elif question.type == QuestionType.YES_NO:
        choices = _option_rows(position, question, chosen, ("✓ ", ""), cb.Choose)
        rows = [[b for line in choices for b in line]]  # yes and no side by side
    elif question.type == QuestionType.MULTIPLE_CHOICE:
        rows = _option_rows(position, question, chosen, ("☑️ ", "⬜ "), cb.Toggle)
        rows.append(row(_("Done ✔"), cb.Done(question.id)))
    elif question.type == QuestionType.SCALE:
        rows = _scale_rows(question, current)
    navigation = []
    if not position.is_first() or position.response.editing:
        navigation.append(button(_("◀ Back"), cb.Back(question.id)))
    if not question.question.required:
        navigation.append(button(_("Skip ▶"), cb.Skip(question.id)))
    if navigation:
        rows.append(navigation)
    return InlineKeyboardMarkup(rows)


def answer_toast(position: Position, question_id: int) -> str | None:
    """The short toast on a pressed answer ("✓ Often"): the question itself moves on."""
    with reading(response_language(position)):
        return _answer_toast(position, question_id)


def _answer_toast(position: Position, question_id: int) -> str | None:
    question = position.view.question(question_id)
    value = position.answers.get(question_id)
    if question is None or value is None or value.skipped:
        return None
    if value.number is not None:
        return f"✓ {value.number}"
    labels = [
        localized(o.text, content_language(), position.view.consultation.languages[0])
        if question.type != QuestionType.YES_NO
        else (_("Yes") if o.key == "yes" else _("No"))
        for o in question.options
        if (o.id or 0) in value.option_ids
    ]
    return short("✓ " + ", ".join(labels), 190) if labels else None


# ---------------------------------------------------------------------- after an answer


def summary_message(position: Position) -> Outgoing:
    """Every answer, with a button to change each while the consultation is open."""
    with reading(response_language(position)):
        return _summary_message(position)


def _summary_message(position: Position) -> Outgoing:
    view = position.view
    lines = [
        _("<b>Your answers: {title}</b>").format(title=text_of(view, view.consultation.title))
    ]
    rows = []
    for number, question in enumerate(position.visible_questions(), start=1):
        lines.append(
            f"{number}. {text_of(view, question.question.text)}\n"
            f"→ {answer_text(view, question, position.answers.get(question.id))}"
        )
        text = localized(
            question.question.text, content_language(), view.consultation.languages[0]
        )
        label = short(_("✏️ Change {n}").format(n=number) + ": " + text, 40)
        rows.append(row(label, cb.Edit(question.id)))
    lines.append(_("You can change an answer while the consultation is open."))
    return Outgoing("\n\n".join(lines), InlineKeyboardMarkup(rows))


def where_you_are(position: Position) -> Outgoing:
    """The current question, or the summary when everything is answered.

    It is also what follows an answer (the next question, or the summary after a change); a
    first completion shows :func:`handlers.views.finish.finished_message` instead.
    """
    return question_message(position) if position.question else summary_message(position)


def welcome_back(position: Position) -> Outgoing:
    """Where the person left off, in one message with a line saying so."""
    here = where_you_are(position)
    with reading(response_language(position)):
        back = _("Welcome back! Here is where you left off.")
    return Outgoing(back + "\n\n" + here.text, here.keyboard)


# ---------------------------------------------------------------------- what went wrong


def _opening(consultation: Consultation, zone: str) -> tuple[str, str, str]:
    """The title, and the local date and time it opens."""
    assert consultation.opens_at is not None
    title = escape(localized(consultation.title, current_language(), consultation.languages[0]))
    opens = consultation.opens_at
    return title, date_text(opens, zone), time_text(opens, zone)


def not_open_yet(consultation: Consultation, zone: str) -> Outgoing:
    """A consultation not open yet: when it opens, and an offer to be told then."""
    if consultation.opens_at is None:
        return Outgoing(_("This consultation has not opened yet. See /consultations later."))
    title, day, time = _opening(consultation, zone)
    text = _(
        "<b>{title}</b> opens on {date} at {time}. Would you like a message from us when it opens?"
    ).format(title=title, date=day, time=time)
    return Outgoing(
        text,
        keyboard(row(_("🔔 Tell me when it opens"), cb.RemindOpening(consultation.id or 0))),
    )


def will_remind(consultation: Consultation, zone: str) -> Outgoing:
    """The person will be told when the consultation opens."""
    title, day, time = _opening(consultation, zone)
    return Outgoing(
        _(
            "Fine: we will send you a message when <b>{title}</b> opens, on {date} at {time}. "
            "Send /stop if you want no messages from us."
        ).format(title=title, date=day, time=time)
    )


def flow_problem(error: FlowError) -> str:
    """Why an action on a consultation could not be taken; nothing was stored."""
    if isinstance(error, AnswerRejected):
        return _problem_text(error)
    if isinstance(error, StaleQuestion):
        return _("That question is already behind you. Here is where you are.")
    if isinstance(error, InAnotherConsultation):
        return _(
            "You are in the middle of «{title}». Finish it, or take a break with /cancel, first."
        ).format(title=plain_title(error.position.view.consultation))
    if isinstance(error, ConsultationNotOpen):
        return _("This consultation is closed. Thank you for your interest! See /consultations.")
    if isinstance(error, NotInConsultation):
        return _("I did not understand that. See /consultations or /help.")
    return stale_button()


def _problem_text(error: AnswerRejected) -> str:
    """Why an answer was not taken."""
    q = error.position.question.question if error.position.question else None
    if error.problem is Problem.TOO_LONG:
        return _(
            "That is too long: at most {limit} characters. Please shorten it and send it again."
        ).format(limit=error.limit)
    if error.problem is Problem.OUT_OF_RANGE:
        return _("Please press a number, or type a number from {low} to {high}.").format(
            low=q.scale_min if q else "", high=q.scale_max if q else ""
        )
    if error.problem is Problem.TOO_MANY:
        return ngettext(
            "You can choose only {n}. Untick it first.",
            "You can choose at most {n}. Untick one first.",
            error.limit or 0,
        ).format(n=error.limit)
    return {
        Problem.EMPTY: _("Please write your answer as text."),
        Problem.REQUIRED: _("This question needs an answer."),
        Problem.USE_BUTTONS: _("Please answer with the buttons under the question."),
    }[error.problem]


def attachment_text() -> str:
    """A picture, sticker, voice message or file: only text and buttons are read."""
    return _(
        "I can only read text and button presses, not pictures, stickers, voice messages or files."
    )


def paused_text(*, was_answering: bool) -> str:
    """After /cancel: answers are kept; or there was nothing to pause."""
    if not was_answering:
        return _("There is nothing to cancel. See /consultations.")
    return _("Paused. Your answers are saved. Continue any time with /consultations.")


# ---------------------------------------------------------------------- native polls


def vote_refused(*, closed: bool) -> str:
    """A vote not counted: its poll closed, or the bot does not know the poll (any more)."""
    if closed:
        return _("This poll is closed, so your vote was not counted.")
    return _("I do not know this poll any more. See /consultations.")


def vote_taken(*, withdrawn: bool = False) -> list[Outgoing]:
    """Thanks for a vote, or word that it was withdrawn (a completion ends with the summary)."""
    if withdrawn:
        return [Outgoing(_("Your vote is withdrawn."))]
    return [Outgoing(_("Thank you! Your answer is saved."))]


# ---------------------------------------------------------------------- one-time codes


def code_prompt(consultation: Consultation, language_code: str) -> Outgoing:
    """Ask for the one-time code of a closed consultation, in the language it is answered in."""
    with reading(language_code):
        return _code_prompt(consultation)


def _code_prompt(consultation: Consultation) -> Outgoing:
    return Outgoing(
        f"<b>{title_of(consultation)}</b>\n\n"
        + _(
            "This consultation is for the people who got a letter with a code. Please type the "
            "code from your letter, for example {example}."
        ).format(example="<code>ABCDE-FGH23</code>")
    )


def code_refused(outcome: CodeCheck, wait: timedelta) -> str:
    """Why a typed code did not open the consultation."""
    if outcome is CodeCheck.USED:
        return _(
            "That code has been used already: each code opens one response. If you did not use "
            "it yourself, please contact the municipality."
        )
    if outcome is CodeCheck.TOO_MANY:
        minutes = max(1, math.ceil(wait.total_seconds() / 60))
        return ngettext(
            "Too many wrong codes. Please try again in {n} minute.",
            "Too many wrong codes. Please try again in {n} minutes.",
            minutes,
        ).format(n=minutes)
    return _("That code is not right. Please check the letter and type the code again.")
