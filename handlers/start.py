"""First contact: welcome, privacy notice and consent, language, help."""

from __future__ import annotations

import re
from dataclasses import dataclass

from telegram import InlineKeyboardMarkup, Update

from handlers import callbacks as cb
from handlers.arenas import arena_link, resume
from handlers.common import Outgoing, Reply, Scene, answer
from handlers.consult import consultation_list, open_consultation
from handlers.context import BotContext
from handlers.i18n import LANGUAGES, _, set_language
from handlers.privacy import language_row, welcome
from models.consultation import find_consultation
from models.participant import (
    has_consented,
    record_privacy_decision,
)
from models.participant import set_language as store_language

# Telegram allows [A-Za-z0-9_-] up to 64 characters in a start payload.
DEEP_LINK = re.compile(
    r"^(?P<kind>[ca])_(?P<slug>[a-z0-9-]{1,40})(?:__(?P<source>[A-Za-z0-9_-]{1,40}))?$"
)


@dataclass(frozen=True)
class DeepLink:
    """A parsed ``/start`` payload: ``c_<slug>`` or ``a_<slug>``, then ``__<source>``."""

    kind: str
    slug: str
    source: str | None


def parse_deep_link(payload: str | None) -> DeepLink | None:
    """Parse a start payload; None when there is none or it is malformed."""
    if not payload:
        return None
    match = DEEP_LINK.match(payload)
    if match is None:
        return None
    return DeepLink(match["kind"], match["slug"], match["source"])


def help_text() -> str:
    """What a citizen can do."""
    taking_part = _(
        "/arenas - meetings and groups you can join, and news you asked for\n"
        "/stop - no more messages from us (/start brings them back)"
    )
    return _(
        "<b>What you can do</b>\n"
        "/consultations - see what you can answer now\n"
        "/language - change language\n"
        "/privacy - what we store about you\n"
        "/mydata - get a copy of your data\n"
        "/delete - delete your data\n"
        "/cancel - take a break; continue later where you left off\n"
        "/help - this message"
    ) + ("\n" + taking_part)


async def start(update: Update, context: BotContext) -> None:
    """Greet the person and ask for consent, or open the consultation a link points to."""
    link = parse_deep_link(context.args[0] if context.args else None)
    payload_given = bool(context.args)

    async def action(scene: Scene) -> Reply:
        session = scene.session
        participant = scene.participant
        now = scene.now
        if link is not None and link.kind == "a":
            return await arena_link(
                session, participant, link.slug, link.source, context.runtime, now
            )
        consultation = None
        if link is not None and link.kind == "c":
            consultation = await find_consultation(session, link.slug)
        missing = payload_given and consultation is None
        not_found = Outgoing(
            _("I could not find that consultation. It may have ended, or the link is wrong.")
        )
        if not await has_consented(session, participant):
            source = (link.source or "") if link else ""
            reply = Reply(send=[welcome(consultation.id or 0 if consultation else 0, source)])
            if missing:
                reply.send.insert(0, not_found)
            return reply
        assert participant is not None
        # /start after /stop: messages again (said first, whatever the link opens).
        resumed = await resume(session, participant, now, context.runtime)
        if consultation is not None:
            reply = await open_consultation(
                session, participant, consultation.id or 0, link.source if link else None, now
            )
        else:
            greeting = not_found if missing else Outgoing(_("Welcome back!"))
            reply = Reply(send=[greeting, await consultation_list(session, participant, now)])
        if resumed is not None:
            reply.send.insert(0, resumed)
        return reply

    await answer(update, context, action)


async def on_consent(update: Update, context: BotContext) -> None:
    """Store the decision on the privacy notice, then carry on where the person wanted to go."""
    data = cb.GiveConsent.unpack(update.callback_query.data if update.callback_query else None)
    chat = update.effective_chat
    assert chat is not None
    assert update.effective_user is not None
    user_id = update.effective_user.id

    async def action(scene: Scene) -> Reply:
        session = scene.session
        participant = scene.participant
        now = scene.now
        language = data.language if data.language in LANGUAGES else None
        if language:
            set_language(language)
        if not data.granted:
            await record_privacy_decision(session, user_id, chat.id, granted=False, now=now)
            return Reply(
                edit=Outgoing(
                    _(
                        "Okay. We have stored only that you said no. "
                        "If you change your mind, send /start."
                    )
                )
            )
        participant = await record_privacy_decision(
            session,
            user_id,
            chat.id,
            granted=True,
            language=language,
            source=data.source or None,
            now=now,
        )
        reply = Reply(edit=Outgoing(_("Thank you! /privacy tells you what we store.")))
        # Consent given again after withdrawing it (which stopped all messages): back on.
        resumed = await resume(session, participant, now, context.runtime)
        if resumed is not None:
            reply.send.append(resumed)
        if data.consultation_id:
            opened = await open_consultation(
                session, participant, data.consultation_id, data.source or None, now
            )
            reply.send.extend(opened.send)
        else:
            reply.send.append(Outgoing(help_text()))
            reply.send.append(await consultation_list(session, participant, now))
        return reply

    await answer(update, context, action)


async def show_help(update: Update, context: BotContext) -> None:
    """List the commands."""

    async def action(scene: Scene) -> Reply:
        return Reply(send=[Outgoing(help_text())])

    await answer(update, context, action)


async def choose_language(update: Update, context: BotContext) -> None:
    """Offer the three languages."""

    async def action(scene: Scene) -> Reply:
        return Reply(
            send=[Outgoing(_("Choose your language:"), InlineKeyboardMarkup([language_row()]))]
        )

    await answer(update, context, action)


async def on_language(update: Update, context: BotContext) -> None:
    """Switch language; stored only for people who consented, otherwise just shown."""
    query = update.callback_query
    assert query is not None
    data = cb.PickLanguage.unpack(query.data)
    if data.language not in LANGUAGES:
        raise cb.InvalidCallback("unknown language")
    pending = _pending_consent(getattr(query.message, "reply_markup", None))

    async def action(scene: Scene) -> Reply:
        session = scene.session
        participant = scene.participant
        set_language(data.language)
        if participant is not None and await has_consented(session, participant):
            await store_language(session, participant, data.language)
            return Reply(edit=Outgoing(_("Language: English. Send /help to see what you can do.")))
        # Nothing is stored before consent: re-show the welcome, carrying the link along.
        if pending is not None:
            return Reply(edit=welcome(pending.consultation_id, pending.source))
        return Reply(edit=welcome())

    await answer(update, context, action)


def _pending_consent(markup: object) -> cb.GiveConsent | None:
    """Find the consent button on the pressed message, to keep its deep link on a switch."""
    for row in getattr(markup, "inline_keyboard", ()):
        for button in row:
            try:
                return cb.GiveConsent.unpack(button.callback_data)
            except (ValueError, TypeError):
                continue
    return None
