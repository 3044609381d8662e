"""The person's privacy: the notice and consent, /privacy, /mydata, /delete, withdrawal.

Consent is versioned (``PRIVACY_NOTICE_VERSION``): when the notice changes, the next action
that would store something shows the notice again and waits for a new yes.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, InputFile, Update

from handlers import callbacks as cb
from handlers.common import Abort, Outgoing, Reply, Scene, answer, deliver, run
from handlers.context import BotContext
from handlers.i18n import LANGUAGE_NAMES, LANGUAGES, _, current_language
from models import privacy
from models.participant import Participant, has_consented, latest_consent

logger = logging.getLogger(__name__)


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
    return [
        InlineKeyboardButton(LANGUAGE_NAMES[code], callback_data=cb.PickLanguage(code).pack())
        for code in LANGUAGES
    ]


def welcome(consultation_id: int = 0, source: str = "", *, changed: bool = False) -> Outgoing:
    """Who we are, the privacy notice, consent and language buttons.

    With ``changed`` it says that the notice changed since the person last agreed.
    """
    language = current_language()
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
    keyboard = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    _("✅ Yes, I agree"),
                    callback_data=cb.GiveConsent(1, language, consultation_id, source).pack(),
                ),
                InlineKeyboardButton(
                    _("No thanks"),
                    callback_data=cb.GiveConsent(0, language, consultation_id, source).pack(),
                ),
            ],
            language_row(),
        ]
    )
    return Outgoing(text, keyboard)


async def consented(session: AsyncSession, participant: Participant | None) -> Participant:
    """Return the participant if they accept the current notice; else ask them (and abort)."""
    if participant is not None and await has_consented(session, participant):
        return participant
    consent = await latest_consent(session, participant) if participant else None
    if consent is not None and consent.granted and consent.withdrawn_at is None:
        # They agreed to an older version: show the new one before storing anything more.
        raise Abort(Reply(send=[welcome(changed=True)]))
    raise Abort(
        Reply(send=[Outgoing(_("First, please read and accept the privacy notice: send /start."))])
    )


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


async def show_privacy(update: Update, context: BotContext) -> None:
    """Explain what is stored, why and for how long, with the person's consent status."""
    assert update.effective_user is not None
    user_id = update.effective_user.id
    runtime = context.runtime

    async def action(scene: Scene) -> Reply:
        session = scene.session
        participant = scene.participant
        consent = await latest_consent(session, participant) if participant else None
        buttons = []
        if await has_consented(session, participant):
            assert consent is not None
            status = _("You accepted this on {date}.").format(
                date=consent.decided_at.strftime("%d.%m.%Y")
            )
            buttons.append(
                [
                    InlineKeyboardButton(
                        _("Withdraw consent"), callback_data=cb.PrivacyChoice("withdraw").pack()
                    )
                ]
            )
        elif consent is not None and not consent.granted:
            status = _("You said no. Send /start if you change your mind.")
        elif consent is not None and consent.withdrawn_at is not None:
            status = _("You withdrew your consent. Send /start if you change your mind.")
        else:
            status = _("You have not accepted this yet. Send /start to begin.")
        if participant is not None:
            buttons.insert(
                0,
                [
                    InlineKeyboardButton(
                        _("Show my data"), callback_data=cb.PrivacyChoice("data").pack()
                    ),
                    InlineKeyboardButton(
                        _("Delete my data"), callback_data=cb.PrivacyChoice("delete").pack()
                    ),
                ],
            )
        number = _("Your Telegram user number: {number}").format(number=user_id)
        text = "\n\n".join(
            [
                _full_notice(
                    runtime.privacy_contact,
                    runtime.free_text_retention_days,
                    runtime.inactive_retention_months,
                ),
                f"{status}\n{number}",
            ]
        )
        return Reply(send=[Outgoing(text, InlineKeyboardMarkup(buttons) if buttons else None)])

    await answer(update, context, action)


async def my_data(update: Update, context: BotContext) -> None:
    """Send everything stored about the person as a JSON file."""
    await _send_my_data(update, context)


async def _send_my_data(update: Update, context: BotContext) -> None:
    document: dict[str, bytes] = {}

    async def action(scene: Scene) -> Reply:
        session = scene.session
        participant = scene.participant
        if participant is None:
            return Reply(send=[Outgoing(_("We store nothing about you."))])
        data = await privacy.personal_data(session, participant, current_language())
        document["json"] = json.dumps(_readable(data), ensure_ascii=False, indent=2).encode()
        return Reply()

    reply = await run(update, context, action)
    await deliver(update, context, reply)
    if "json" in document:
        chat_id = update.effective_chat.id if update.effective_chat else 0
        await context.bot.send_document(
            chat_id,
            InputFile(document["json"], filename="medvirk-my-data.json"),
            caption=_("Everything Medvirk stores about you."),
        )


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


async def delete_data(update: Update, context: BotContext) -> None:
    """Ask before erasing everything about the person."""

    async def action(scene: Scene) -> Reply:
        participant = scene.participant
        if participant is None:
            return Reply(send=[Outgoing(_("We store nothing about you."))])
        return Reply(send=[_confirm_delete()])

    await answer(update, context, action)


def _confirm_delete() -> Outgoing:
    return Outgoing(
        _(
            "Do you want to delete everything we store about you? Your answers are removed "
            "from the results too. This cannot be undone."
        ),
        InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(
                        _("Yes, delete everything"),
                        callback_data=cb.PrivacyChoice("delete-yes").pack(),
                    ),
                    InlineKeyboardButton(_("No"), callback_data=cb.PrivacyChoice("keep").pack()),
                ]
            ]
        ),
    )


async def on_privacy_choice(update: Update, context: BotContext) -> None:
    """Handle the buttons of /privacy, /delete and withdrawal."""
    data = cb.PrivacyChoice.unpack(update.callback_query.data if update.callback_query else None)
    if data.action == "data":
        await _send_my_data(update, context)
        return

    async def action(scene: Scene) -> Reply:
        session = scene.session
        participant = scene.participant
        now = scene.now
        if participant is None:
            return Reply(edit=Outgoing(_("We store nothing about you.")))
        if data.action == "delete":
            return Reply(send=[_confirm_delete()])
        if data.action == "delete-yes":
            await privacy.erase(session, participant, now)
            return Reply(
                edit=Outgoing(
                    _(
                        "Done: everything we stored about you is deleted. "
                        "Send /start if you want to begin afresh."
                    )
                )
            )
        if data.action == "withdraw":
            return Reply(
                send=[
                    Outgoing(
                        _(
                            "Withdraw your consent? We will stop sending you anything, "
                            "and you will not be able to answer until you agree again."
                        ),
                        InlineKeyboardMarkup(
                            [
                                [
                                    InlineKeyboardButton(
                                        _("Yes, withdraw"),
                                        callback_data=cb.PrivacyChoice("withdraw-yes").pack(),
                                    ),
                                    InlineKeyboardButton(
                                        _("No"), callback_data=cb.PrivacyChoice("keep").pack()
                                    ),
                                ]
                            ]
                        ),
                    )
                ]
            )
        if data.action == "withdraw-yes":
            await privacy.withdraw_consent(session, participant, now)
            return Reply(
                edit=Outgoing(
                    _(
                        "Your consent is withdrawn and nothing more will be sent to you. "
                        "Your earlier answers are kept unless you delete them."
                    )
                ),
                send=[_confirm_delete()],
            )
        if data.action == "keep":
            return Reply(edit=Outgoing(_("Nothing was changed.")))
        raise cb.InvalidCallback("unknown privacy action")

    await answer(update, context, action)


async def apply_retention(context: BotContext) -> None:
    """Delete old free texts and inactive people, as the retention settings say (a job)."""
    runtime = context.runtime
    now = runtime.clock()
    async with runtime.sessionmaker() as session, session.begin():
        texts = await privacy.expire_free_texts(session, now, runtime.free_text_retention_days)
        people = await privacy.erase_inactive(session, now, runtime.inactive_retention_months)
    if texts or people:
        logger.info(
            "Retention: deleted %d free-text answers and %d inactive people", texts, people
        )
