"""The person's privacy as they see it: the notice and consent, /privacy, their data, erasure."""

from __future__ import annotations

import json
from typing import Any

from telegram import InlineKeyboardButton

from handlers import callbacks as cb
from handlers.i18n import LANGUAGE_NAMES, LANGUAGES, _, current_language
from handlers.views.outgoing import Outgoing, button, keyboard
from models.participant import Consent


def privacy_notice() -> str:
    """The short privacy notice shown before consent, in plain language."""
    return _(
        "<b>Before we start</b>\n"
        "• We store your answers, the language you choose, and your Telegram user number "
        "so we can reply to you. We do not store your name or username.\n"
        "• Your answers can show your opinions. The municipality only sees them as totals "
        "or without your identity, to learn what residents think.\n"
        "• You decide: you can stop at any time. /privacy tells you more."
    )


def language_row() -> list[InlineKeyboardButton]:
    """One button per language, each in its own name."""
    return [button(LANGUAGE_NAMES[code], cb.PickLanguage(code)) for code in LANGUAGES]


def language_choice() -> Outgoing:
    """The three languages to choose from."""
    return Outgoing(_("Choose your language:"), keyboard(language_row()))


def language_chosen() -> Outgoing:
    """The language was switched (the text is in the new language)."""
    return Outgoing(_("Language: English. Send /help to see what you can do."))


def welcome(
    consultation_id: int = 0, source: str = "", *, changed: bool = False, arena_id: int = 0
) -> Outgoing:
    """Who we are, the privacy notice, consent and language buttons.

    The consent buttons carry the deep link through: a consultation to open after consent, or
    with ``arena_id`` an arena to show. With ``changed`` it says that the notice changed since
    the person last agreed.
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
        if arena_id:
            return cb.ArenaConsent(granted, language, arena_id, source)
        return cb.GiveConsent(granted, language, consultation_id, source)

    answers = [button(_("✅ Yes, I agree"), consent(1)), button(_("No thanks"), consent(0))]
    return Outgoing(text, keyboard(answers, language_row()))


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
    who = contact or _("the municipality")
    return _(
        "<b>What Medvirk stores about you</b>\n"
        "• Your Telegram user number and chat, so we can reply. Not your name or username.\n"
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
        "Telegram also processes your messages; see Telegram's own privacy policy."
    ).format(days=free_text_days, months=inactive_months, contact=who)


def _consent_status(consent: Consent | None, consented: bool) -> str:
    if consented:
        assert consent is not None
        return _("You accepted this on {date}.").format(
            date=consent.decided_at.strftime("%d.%m.%Y")
        )
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
) -> Outgoing:
    """What is stored, why and for how long, with the person's consent and their buttons.

    ``known``: something is stored about the person (they can see and delete it).
    """
    notice = _full_notice(contact, free_text_days, inactive_months)
    number = _("Your Telegram user number: {number}").format(number=user_id)
    status = _consent_status(consent, consented)
    rows = []
    if known:
        rows.append(
            [
                button(_("Show my data"), cb.PrivacyChoice("data")),
                button(_("Delete my data"), cb.PrivacyChoice("delete")),
            ]
        )
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
        _("all records"): data["records"],
    }


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


def erased() -> Outgoing:
    """Everything about the person is gone."""
    return Outgoing(
        _(
            "Done: everything we stored about you is deleted. "
            "Send /start if you want to begin afresh."
        )
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
