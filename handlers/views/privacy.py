"""The person's privacy as they see it: the notice and consent, /privacy, their data, erasure."""

from __future__ import annotations

import json
from datetime import datetime
from html import escape
from typing import Any

from telegram import InlineKeyboardButton

from handlers import callbacks as cb
from handlers.i18n import LANGUAGE_NAMES, LANGUAGES, _, current_language, ngettext
from handlers.views.outgoing import Outgoing, button, keyboard
from handlers.views.times import date_text
from handlers.views.words import language_name
from models.participant import Consent


def privacy_notice() -> str:
    """The short privacy notice shown before consent, in plain language."""
    return _(
        "<b>Before we start</b>\n"
        "• We store your answers, the language you choose, and the number of your chat (your "
        "Telegram user number, or in the web chat a random number kept in your browser) so we "
        "can reply to you. We do not store your name or username.\n"
        "• Your answers can show your opinions. The municipality only sees them as totals "
        "or without your identity, to learn what residents think.\n"
        "• You decide: you can stop at any time. /privacy tells you more."
    )


#: Language buttons per row: nine fit in three rows, each name readable on a phone.
LANGUAGES_PER_ROW = 3


def language_rows() -> list[list[InlineKeyboardButton]]:
    """One button per language, each in its own name, in rows of three.

    Whatever the phone's language: Somali and Tigrinya readers often have a phone in English
    or Arabic, and must see "Soomaali" and "ትግርኛ" in the first message.
    """
    buttons = [button(LANGUAGE_NAMES[code], cb.PickLanguage(code)) for code in LANGUAGES]
    return [
        buttons[start : start + LANGUAGES_PER_ROW]
        for start in range(0, len(buttons), LANGUAGES_PER_ROW)
    ]


def language_choice() -> Outgoing:
    """Every UI language to choose from."""
    return Outgoing(_("Choose your language:"), keyboard(*language_rows()))


def language_chosen() -> Outgoing:
    """The language was switched (the text is in the new language)."""
    return Outgoing(_("Language: English. Send /help to see what you can do."))


def welcome(
    consultation_id: int = 0,
    source: str = "",
    *,
    changed: bool = False,
    arena_id: int = 0,
    centre_id: int = 0,
) -> Outgoing:
    """Who we are, the privacy notice, consent and language buttons.

    The consent buttons carry the deep link through: a consultation to open after consent, or
    with ``arena_id`` an arena to show, with ``centre_id`` a volunteer centre's invitation to
    volunteer. With ``changed`` it says that the notice changed since the person last agreed.
    """
    opening = (
        _("Our privacy notice has changed. Please read it and tell us if you agree.")
        if changed
        else _(
            "Hi! This is Medvirk, the municipality's chat where you can have your say. "
            "We ask short questions about plans and services in your area."
        )
    )
    text = "\n\n".join(
        [opening, privacy_notice(), _("Do you agree that we store your answers this way?")]
    )
    language = current_language()

    def consent(granted: int) -> cb.CallbackData:
        if centre_id:
            return cb.CentreConsent(granted, language, centre_id, source)
        if arena_id:
            return cb.ArenaConsent(granted, language, arena_id, source)
        return cb.GiveConsent(granted, language, consultation_id, source)

    answers = [button(_("✅ Yes, I agree"), consent(1)), button(_("No thanks"), consent(0))]
    return Outgoing(text, keyboard(answers, *language_rows()))


def consent_needed() -> Outgoing:
    """Someone who has not accepted the notice tries to do something that stores data."""
    return Outgoing(_("First, please read and accept the privacy notice: send /start."))


def consent_declined() -> Outgoing:
    """After "No thanks" on the notice."""
    return Outgoing(
        _("Okay. We have stored only that you said no. If you change your mind, send /start.")
    )


def consent_given() -> Outgoing:
    """After "Yes, I agree" on the notice."""
    return Outgoing(_("Thank you! /privacy tells you what we store."))


# ---------------------------------------------------------------------- /privacy


def _full_notice(contact: str, free_text_days: int, inactive_months: int) -> str:
    # ``medvirk run`` refuses a live bot without PRIVACY_CONTACT; only a test installation
    # (the sandbox) has none, and says so rather than naming a contact that does not exist.
    who = escape(contact) if contact else _("none is set up in this test installation")
    return _(
        "<b>What Medvirk stores about you</b>\n"
        "• The number of your chat, so we can reply: your Telegram user number, or in the web "
        "chat a random number kept in a cookie in your browser. Not your name or username.\n"
        "• The language you chose, and where you first came from (for example a poster).\n"
        "• Your answers, and when you gave them.\n"
        "• Your yes or no to this notice.\n\n"
        "<b>Why</b>\n"
        "The municipality uses the answers to learn what residents think before it decides. "
        "Answers are shown to staff as totals; written answers are read by moderators who "
        "never see who wrote them.\n\n"
        "<b>For how long</b>\n"
        "Written answers are deleted {days} days after a consultation closes. If you do not "
        "use Medvirk for {months} months, everything about you is deleted.\n\n"
        "<b>Your rights</b>\n"
        "/mydata sends you everything we store. /delete erases it. You can withdraw your "
        "consent at any time. Questions: {contact}.\n\n"
        "The web chat keeps your conversation for you to come back to, at most {days} days. "
        "On Telegram, Telegram also processes your messages; see Telegram's own privacy policy."
    ).format(days=free_text_days, months=inactive_months, contact=who)


def _volunteering_notice(contact_days: int) -> str:
    return _(
        "<b>If you volunteer</b> (/volunteer, only if you say yes to it)\n"
        "• What you like to do, where, when and the languages you speak.\n"
        "• The volunteer centres' requests you got, and your answers.\n"
        "• Your first name and username or phone number, only if you choose to share them "
        "with a centre after saying yes; deleted {days} days after the request.\n"
        "End it any time with /volunteer."
    ).format(days=contact_days)


def _consent_status(consent: Consent | None, consented: bool) -> str:
    if consented:
        assert consent is not None
        return _("You accepted this on {date}.").format(date=date_text(consent.decided_at, "UTC"))
    if consent is not None and not consent.granted:
        return _("You said no. Send /start if you change your mind.")
    if consent is not None and consent.withdrawn_at is not None:
        return _("You withdrew your consent. Send /start if you change your mind.")
    return _("You have not accepted this yet. Send /start to begin.")


def privacy_message(
    user_id: int,
    consent: Consent | None,
    *,
    known: bool,
    consented: bool,
    contact: str,
    free_text_days: int,
    inactive_months: int,
    background: bool = False,
    volunteer_contact_days: int = 30,
) -> Outgoing:
    """What is stored, why and for how long, with the person's consent and their buttons.

    ``known``: something is stored about the person (they can see and delete it).
    ``background``: the installation asks background questions (the person's are a tap away).
    """
    notice = _full_notice(contact, free_text_days, inactive_months)
    if background:
        notice += "\n\n" + _(
            "<b>Background questions</b>\n"
            "If you answer them, we also store your age group, district and the like, to see "
            "which groups we are missing and to draw fair focus groups. Staff only see numbers "
            "for groups of at least 5 people."
        )
    notice += "\n\n" + _volunteering_notice(volunteer_contact_days)
    number = _("The number of your chat: {number}").format(number=user_id)
    status = _consent_status(consent, consented)
    rows = []
    if known:
        rows.append(
            [
                button(_("Show my data"), cb.PrivacyChoice("data")),
                button(_("Delete my data"), cb.PrivacyChoice("delete")),
            ]
        )
    if consented and background:
        rows.append([button(_("Background questions"), cb.BackgroundOffer("card"))])
    if consented:
        rows.append([button(_("Withdraw consent"), cb.PrivacyChoice("withdraw"))])
    return Outgoing(f"{notice}\n\n{status}\n{number}", keyboard(*rows) if rows else None)


def nothing_stored() -> Outgoing:
    """For someone the bot stores nothing about."""
    return Outgoing(_("We store nothing about you."))


# ---------------------------------------------------------------------- their data


def _readable(data: dict[str, Any]) -> dict[str, Any]:
    """Name the parts of the data document in the person's language."""
    keys = {
        "consultation": _("consultation"),
        "question": _("question"),
        "answer": _("answer"),
        "skipped": _("skipped"),
        "answered_at": _("answered at (UTC)"),
        "source": _("came from"),
    }
    return {
        _("about"): _(
            'Everything Medvirk stores about you. Times are in UTC. The part "all records" '
            "lists every stored row, table by table."
        ),
        _("answers"): [{keys[k]: v for k, v in item.items()} for item in data["answers"]],
        _("background answers"): [
            {keys[k]: v for k, v in item.items()} for item in data.get("background", [])
        ],
        _("all records"): data["records"],
    }


def data_summary(data: dict[str, Any], user_id: int) -> Outgoing:
    """What we have about the person, in plain words; the JSON file follows with all of it."""
    records: dict[str, list[dict[str, Any]]] = data["records"]
    lines = [
        _("<b>What we have about you</b>"),
        *_about_you(records, user_id),
        *_what_you_did(data["answers"], records),
        _(
            "We do not have your name or username. The file below has every stored row, for the "
            "record. /delete erases it all."
        ),
    ]
    return Outgoing("\n".join(lines))


def _about_you(records: dict[str, list[dict[str, Any]]], user_id: int) -> list[str]:
    """The person's number, language, first source and yes to the privacy notice."""
    person = (records.get("participant") or [{}])[0]
    lines = [
        "• "
        + _("Your Telegram user number, {number}, and your chat, to reply to you.").format(
            number=user_id
        ),
    ]
    if person.get("language"):
        lines.append(
            "• "
            + _("Your language: {language}.").format(language=language_name(person["language"]))
        )
    if person.get("source"):
        lines.append(
            "• "
            + _("Where you first came from: {source}.").format(
                source=escape(str(person["source"]))
            )
        )
    consents = [c for c in records.get("consent", []) if c.get("granted")]
    if consents:
        when = datetime.fromisoformat(str(consents[-1]["decided_at"]))
        lines.append(
            "• "
            + _("Your yes to the privacy notice, from {date}.").format(date=date_text(when, "UTC"))
        )
    return lines


def _what_you_did(
    answers: list[dict[str, Any]], records: dict[str, list[dict[str, Any]]]
) -> list[str]:
    """How many answers, to which consultations, and how many arenas the person joined."""
    lines = []
    if answers:
        titles = list(dict.fromkeys(str(a["consultation"]) for a in answers))
        lines.append(
            "• "
            + ngettext(
                "{n} answer, to: {titles}.", "{n} answers, to: {titles}.", len(answers)
            ).format(n=len(answers), titles=escape(", ".join(titles)))
        )
    else:
        lines.append("• " + _("No answers."))
    joined = [s for s in records.get("subscription", []) if not s.get("withdrawn_at")]
    if joined:
        lines.append(
            "• "
            + ngettext(
                "You are a member of {n} arena.", "You are a member of {n} arenas.", len(joined)
            ).format(n=len(joined))
        )
    return lines


def data_document(data: dict[str, Any]) -> bytes:
    """Everything stored about the person, as the JSON file /mydata sends."""
    return json.dumps(_readable(data), ensure_ascii=False, indent=2).encode()


def data_caption() -> str:
    """The line under the data file."""
    return _("Everything Medvirk stores about you.")


# ---------------------------------------------------------------------- erasure and withdrawal


def _yes_or_keep(question: str, yes: str, choice: str) -> Outgoing:
    keep = cb.PrivacyChoice("keep")
    return Outgoing(
        question, keyboard([button(yes, cb.PrivacyChoice(choice)), button(_("No"), keep)])
    )


def confirm_delete() -> Outgoing:
    """Ask before erasing everything about the person."""
    return _yes_or_keep(
        _(
            "Do you want to delete everything we store about you? Your answers are removed "
            "from the results too. This cannot be undone."
        ),
        _("Yes, delete everything"),
        "delete-yes",
    )


def confirm_withdraw() -> Outgoing:
    """Ask before withdrawing consent."""
    return _yes_or_keep(
        _(
            "Withdraw your consent? We will stop sending you anything, "
            "and you will not be able to answer until you agree again."
        ),
        _("Yes, withdraw"),
        "withdraw-yes",
    )


def chat_history_note() -> str:
    """The chat on the person's phone is theirs: the bot cannot delete it."""
    return _(
        "The messages in this chat stay on your phone until you delete them: they are yours, "
        "and Medvirk cannot remove them. In Telegram, open this chat, tap the name at the top, "
        "then the menu (⋮ or …) and Delete chat."
    )


def erased() -> Outgoing:
    """Everything about the person is gone; the chat history on their phone is theirs."""
    return Outgoing(
        _(
            "Done: everything we stored about you is deleted. "
            "Send /start if you want to begin afresh."
        )
        + "\n\n"
        + chat_history_note()
    )


def withdrawn() -> Outgoing:
    """Consent withdrawn; answers stay unless deleted."""
    return Outgoing(
        _(
            "Your consent is withdrawn and nothing more will be sent to you. "
            "Your earlier answers are kept unless you delete them."
        )
    )


def unchanged() -> Outgoing:
    """The person said no to deleting or withdrawing."""
    return Outgoing(_("Nothing was changed."))
