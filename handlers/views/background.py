"""Background questions as a resident sees them: the offer and its purpose, each question, and
their answers under /privacy with the choice never to be drawn for a focus group."""

from __future__ import annotations

from html import escape

from telegram import InlineKeyboardButton

from handlers import callbacks as cb
from handlers.i18n import _, current_language, ngettext
from handlers.views.outgoing import Outgoing, button, keyboard, row
from models.profile import BackgroundQuestion, band_text

#: Bands per keyboard row: two side by side when there are many (districts).
WIDE = 4


def _labels(questions: list[BackgroundQuestion]) -> str:
    """The questions' short names in a sentence: "age, district and housing"."""
    names = [escape(q.label_in(current_language()).lower()) for q in questions]
    if len(names) == 1:
        return names[0]
    return _("{first} and {last}").format(first=", ".join(names[:-1]), last=names[-1])


def _purpose() -> str:
    return _(
        '• It is voluntary, and every question has "Prefer not to say".\n'
        "• Staff only see numbers for groups of at least 5 people. Moderators never see these "
        "answers.\n"
        "• You can see, change or delete your answers at any time under /privacy."
    )


def offer(questions: list[BackgroundQuestion]) -> Outgoing:
    """The offer after a finished consultation: what is asked, why, and that it is optional."""
    text = "\n\n".join(
        [
            _("<b>Help us hear from everyone</b>"),
            _(
                "May we ask about your {questions}? Then we can see whether the people who "
                "answer are like the people who live here, reach the groups we are missing, and "
                "draw fair focus groups."
            ).format(questions=_labels(questions)),
            _purpose(),
        ]
    )
    count = len(questions)
    start = ngettext("✏ Answer {n} short question", "✏ Answer {n} short questions", count)
    return Outgoing(
        text,
        keyboard(
            [
                button(start.format(n=count), cb.BackgroundOffer("start")),
                button(_("No thanks"), cb.BackgroundOffer("no")),
            ]
        ),
    )


def _band_rows(
    question: BackgroundQuestion, current: int | None, answered: bool
) -> list[list[InlineKeyboardButton]]:
    def label(text: str, chosen: bool) -> str:
        return f"✓ {text}" if chosen else text

    bands = [
        button(
            label(band_text(o, current_language()), answered and current == o.id),
            cb.BackgroundAnswer(question.id, o.id or 0),
        )
        for o in question.options
    ]
    width = 2 if len(bands) > WIDE else 1
    rows = [bands[i : i + width] for i in range(0, len(bands), width)]
    rows.append(
        row(
            label(_("Prefer not to say"), answered and current is None),
            cb.BackgroundAnswer(question.id, 0),
        )
    )
    return rows


def question_message(
    question: BackgroundQuestion,
    number: int,
    total: int,
    answers: dict[int, int | None],
) -> Outgoing:
    """One background question with its bands and "prefer not to say" (the answer ticked)."""
    heading = _("About you, {number}/{total}").format(number=number, total=total)
    text = f"<i>{heading}</i>\n<b>{escape(question.text_in(current_language()))}</b>"
    rows = _band_rows(question, answers.get(question.id), question.id in answers)
    return Outgoing(text, keyboard(*rows))


def thanks() -> Outgoing:
    """After the last background question."""
    return Outgoing(
        _(
            "Thank you! Your answers help us see who we are missing. You can see, change or "
            "delete them under /privacy."
        )
    )


def declined() -> Outgoing:
    """After "No thanks" to the offer."""
    return Outgoing(
        _(
            "Okay, we will not ask again. If you change your mind, the questions are under "
            "/privacy."
        )
    )


def gone() -> str:
    """A button of a background question that no longer exists."""
    return _("That question no longer exists. See /privacy.")


def card(
    questions: list[BackgroundQuestion], answers: dict[int, int | None], *, may_draw: bool
) -> Outgoing:
    """The person's background answers with what they can do: answer, delete, never be drawn."""
    code = current_language()
    lines = [_("<b>Your background answers</b>")]
    for question in questions:
        if question.id not in answers:
            value = _("not answered")
        elif (chosen := answers[question.id]) is None or question.option(chosen) is None:
            value = _("prefer not to say")
        else:
            option = question.option(chosen)
            assert option is not None
            value = band_text(option, code)
        lines.append(f"• {escape(question.label_in(code))}: {escape(value)}")
    lines += ["", _purpose(), "", _draw_line(may_draw=may_draw)]
    rows = [row(_("✏ Answer or change"), cb.BackgroundOffer("start"))]
    if answers:
        rows.append(row(_("🗑 Delete my background answers"), cb.BackgroundOffer("del")))
    rows.append(_draw_row(may_draw=may_draw))
    return Outgoing("\n".join(lines), keyboard(*rows))


def _draw_line(*, may_draw: bool) -> str:
    if may_draw:
        return _(
            "Focus groups: if you joined an arena, you may be drawn by lot and invited to a "
            "focus group. You can always say no."
        )
    return _("Focus groups: you said you never want to be drawn.")


def _draw_row(*, may_draw: bool) -> list[InlineKeyboardButton]:
    if may_draw:
        return row(_("🎲 Never draw me for focus groups"), cb.BackgroundOffer("draw0"))
    return row(_("🎲 You may draw me for focus groups"), cb.BackgroundOffer("draw1"))


def deleted() -> str:
    """The toast after deleting the background answers."""
    return _("Your background answers are deleted.")


def draw_notice(*, may_draw: bool) -> str:
    """The toast after the choice about focus groups."""
    if may_draw:
        return _("You may be drawn for focus groups again.")
    return _("We will never draw you for a focus group.")


def no_questions() -> Outgoing:
    """/privacy's background button when the installation has no background questions."""
    return Outgoing(_("There are no background questions here."))
