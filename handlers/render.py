"""Texts and keyboards for consultations: questions, answers, summaries, problems."""

from __future__ import annotations

from html import escape

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from handlers import callbacks as cb
from handlers.common import Outgoing, PollOut, Reply
from handlers.i18n import _, current_language, ngettext
from models.base import localized
from models.consultation import Consultation, ConsultationView, QuestionView
from models.consultation_file import QuestionType
from models.response import AnswerRejected, AnswerValue, Position, Problem, Response

BUTTON_TEXT_MAX = 60


def text_of(view: ConsultationView, text: dict[str, str] | None) -> str:
    """A consultation text in the reader's language, with fallback, escaped for HTML."""
    return escape(localized(text, current_language(), view.consultation.languages[0]))


def title_of(consultation: Consultation) -> str:
    """The title in the reader's language, escaped."""
    return escape(localized(consultation.title, current_language(), consultation.languages[0]))


def _short(text: str, limit: int = BUTTON_TEXT_MAX) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


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
    """The message asking the current question, with its buttons."""
    question = position.question
    assert question is not None
    view = position.view
    parts = [_header(position), text_of(view, question.question.text)]
    hint = _hint(view, question)
    if hint:
        parts.append(f"<i>{hint}</i>")
    return Outgoing("\n\n".join(parts), _question_keyboard(position))


def poll_message(position: Position) -> Outgoing:
    """The current question as a native Telegram poll (plain text: polls take no HTML)."""
    question = position.question
    assert question is not None
    view = position.view
    language, first = current_language(), view.consultation.languages[0]
    return Outgoing(
        "",
        poll=PollOut(
            question=localized(question.question.text, language, first),
            options=[localized(o.text, language, first) for o in question.options],
            multiple=question.type == QuestionType.MULTIPLE_CHOICE,
            response_id=position.response.id or 0,
            question_id=question.id,
        ),
    )


def _question_keyboard(position: Position) -> InlineKeyboardMarkup:
    question = position.question
    assert question is not None
    view = position.view
    current = position.answers.get(question.id)
    chosen = set(current.option_ids) if current else set()
    rows: list[list[InlineKeyboardButton]] = []
    q = question.question
    if question.type in (QuestionType.SINGLE_CHOICE, QuestionType.YES_NO):
        for option in question.options:
            mark = "✓ " if option.id in chosen else ""
            label = _short(mark + option_text(view, question, option.id or 0))
            rows.append([_button(label, cb.Choose(question.id, option.id or 0))])
        if question.type == QuestionType.YES_NO:
            rows = [[button for row in rows for button in row]]
    elif question.type == QuestionType.MULTIPLE_CHOICE:
        for option in question.options:
            box = "☑️ " if option.id in chosen else "⬜ "
            label = _short(box + option_text(view, question, option.id or 0))
            rows.append([_button(label, cb.Toggle(question.id, option.id or 0))])
        rows.append([_button(_("Done ✔"), cb.Done(question.id))])
    elif question.type == QuestionType.SCALE:
        low, high = q.scale_min or 0, q.scale_max or 0
        values = list(range(low, high + 1))
        buttons = [
            _button(
                f"[{v}]" if current and current.number == v else str(v), cb.Rate(question.id, v)
            )
            for v in values
        ]
        # Six buttons fit a phone's width; a 0-10 scale takes two rows.
        rows.extend(buttons[i : i + 6] for i in range(0, len(buttons), 6))
    navigation = []
    if not position.is_first() or position.response.editing:
        navigation.append(_button(_("◀ Back"), cb.Back(question.id)))
    if not q.required:
        navigation.append(_button(_("Skip ▶"), cb.Skip(question.id)))
    if navigation:
        rows.append(navigation)
    return InlineKeyboardMarkup(rows)


def _button(label: str, data: cb.CallbackData) -> InlineKeyboardButton:
    return InlineKeyboardButton(label, callback_data=data.pack())


def answered_message(position: Position, question: QuestionView) -> Outgoing:
    """The question's message once answered: the question and the answer, no buttons."""
    visible = [q.id for q in position.visible_questions()]
    number = visible.index(question.id) + 1 if question.id in visible else len(visible)
    view = position.view
    title = text_of(view, view.consultation.title)
    value = answer_text(view, question, position.answers.get(question.id))
    return Outgoing(
        f"<b>{title}</b> · {number}/{len(visible)}\n\n"
        f"{text_of(view, question.question.text)}\n\n✓ <i>{value}</i>"
    )


def summary_message(position: Position) -> Outgoing:
    """Every answer, with a button to change each while the consultation is open."""
    view = position.view
    lines = [
        _("<b>Your answers: {title}</b>").format(title=text_of(view, view.consultation.title))
    ]
    buttons = []
    for number, question in enumerate(position.visible_questions(), start=1):
        lines.append(
            f"{number}. {text_of(view, question.question.text)}\n"
            f"→ {answer_text(view, question, position.answers.get(question.id))}"
        )
        buttons.append(
            [
                InlineKeyboardButton(
                    _short(
                        _("✏️ Change {n}").format(n=number)
                        + ": "
                        + localized(
                            question.question.text,
                            current_language(),
                            view.consultation.languages[0],
                        ),
                        40,
                    ),
                    callback_data=cb.Edit(question.id).pack(),
                )
            ]
        )
    lines.append(_("You can change an answer while the consultation is open."))
    return Outgoing("\n\n".join(lines), InlineKeyboardMarkup(buttons))


def after_step(position: Position) -> list[Outgoing]:
    """What follows an answer: the next question, or thanks and the summary."""
    if position.question is not None:
        return [question_message(position)]
    messages = []
    if position.just_completed:
        messages.append(Outgoing(_("Thank you! Your answers are saved.")))
    messages.append(summary_message(position))
    return messages


def where_you_are(position: Position) -> Outgoing:
    """The current question, or the summary when everything is answered."""
    return question_message(position) if position.question else summary_message(position)


def intro_message(view: ConsultationView) -> Outgoing:
    """The consultation's title and intro, shown once at its start."""
    parts = [f"<b>{text_of(view, view.consultation.title)}</b>"]
    if view.consultation.intro:
        parts.append(text_of(view, view.consultation.intro))
    parts.append(_("You can take a break with /cancel and continue later."))
    return Outgoing("\n\n".join(parts))


def problem_reply(error: AnswerRejected, *, on_button: bool) -> Reply:
    """Say why an answer was not taken; nothing was stored."""
    q = error.position.question.question if error.position.question else None
    texts = {
        Problem.TOO_LONG: _(
            "That is too long: at most {limit} characters. Please shorten it and send it again."
        ).format(limit=error.limit),
        Problem.EMPTY: _("Please write your answer as text."),
        Problem.OUT_OF_RANGE: _(
            "Please press a number, or type a number from {low} to {high}."
        ).format(low=q.scale_min if q else "", high=q.scale_max if q else ""),
        Problem.TOO_MANY: ngettext(
            "You can choose only {n}. Untick it first.",
            "You can choose at most {n}. Untick one first.",
            error.limit or 0,
        ).format(n=error.limit),
        Problem.REQUIRED: _("This question needs an answer."),
        Problem.USE_BUTTONS: _("Please answer with the buttons under the question."),
    }
    text = texts[error.problem]
    if on_button:
        return Reply(notice=text)
    return Reply(send=[Outgoing(text)])


def consultation_label(consultation: Consultation, response: Response | None) -> str:
    """A consultation's button in the list, marked when started or answered."""
    title = localized(consultation.title, current_language(), consultation.languages[0])
    if response is None:
        return _short(title)
    if response.completed_at is not None:
        return _short("✓ " + title)
    return _short("… " + title)
