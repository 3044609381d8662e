"""First contact: welcome, privacy notice and consent, language, help."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial

from telegram import Update

from handlers import callbacks as cb
from handlers.arenas import arena_link
from handlers.common import Reply, Scene, answer, callback_data, deliver, run, saying
from handlers.consent import resume, take_consent
from handlers.consult import consultation_list, open_consultation
from handlers.context import BotContext
from handlers.i18n import LANGUAGES, current_language, set_language
from handlers.menu import publish_menu
from handlers.views import help as views
from handlers.views import privacy as privacy_views
from handlers.views.consultation import where_you_are
from handlers.views.outgoing import Outgoing
from handlers.volunteer import volunteer_link
from models.consultation import Consultation, find_consultation
from models.participant import Participant, has_consented
from models.participant import set_language as store_language
from models.response import current_position
from models.roles import Role, roles_of

# Telegram allows [A-Za-z0-9_-] up to 64 characters in a start payload.
DEEP_LINK = re.compile(
    r"^(?P<kind>[cav])_(?P<slug>[a-z0-9-]{1,40})(?:__(?P<source>[A-Za-z0-9_-]{1,40}))?$"
)


@dataclass(frozen=True)
class DeepLink:
    """A parsed ``/start`` payload: ``c_<slug>``, ``a_<slug>`` or ``v_<centre>``, then
    ``__<source>``."""

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


#: A person's roles found in an update's transaction, and the language they read: their
#: command menu is set once the reply went out.
Menu = list[tuple[set[Role], str]]


async def _answer_with_menu(
    update: Update, context: BotContext, action: Callable[[Scene, Menu], Awaitable[Reply]]
) -> None:
    """Answer, then give someone with a role their own command menu (it may be new)."""
    menu: Menu = []
    await deliver(update, context, await run(update, context, lambda scene: action(scene, menu)))
    if menu and update.effective_user is not None:
        roles, code = menu[0]
        await publish_menu(context.bot, update.effective_user.id, roles, code)


async def _roles(scene: Scene, menu: Menu) -> set[Role]:
    roles = await roles_of(scene.session, scene.user_id, scene.runtime.admin_ids)
    if roles:
        menu.append((roles, current_language()))
    return roles


async def start(update: Update, context: BotContext) -> None:
    """Greet the person and ask for consent, or open the consultation a link points to."""
    link = parse_deep_link(context.args[0] if context.args else None)
    payload_given = bool(context.args)
    await _answer_with_menu(
        update, context, lambda scene, menu: _start(scene, menu, link, payload_given)
    )


async def _start(scene: Scene, menu: Menu, link: DeepLink | None, payload_given: bool) -> Reply:
    roles = await _roles(scene, menu)
    if link is not None and link.kind == "a":
        return await arena_link(scene, link.slug, link.source)
    if link is not None and link.kind == "v":
        return await volunteer_link(scene, link.slug, link.source)
    consultation = None
    if link is not None and link.kind == "c":
        consultation = await find_consultation(scene.session, link.slug)
    missing = payload_given and consultation is None
    source = link.source if link else None
    consented = await has_consented(scene.session, scene.participant)
    if roles and not consented and not payload_given:
        # Staff at work are not new residents: their commands, and the notice on request.
        return Reply(send=[views.staff_welcome(roles)])
    if scene.participant is None or not consented:
        welcome = privacy_views.welcome(consultation.id or 0 if consultation else 0, source or "")
        return Reply(send=[views.consultation_not_found(), welcome] if missing else [welcome])
    return await _again(scene, scene.participant, consultation, source, missing=missing)


async def _again(
    scene: Scene,
    person: Participant,
    consultation: Consultation | None,
    source: str | None,
    *,
    missing: bool,
) -> Reply:
    """``/start`` from someone who agreed: the linked consultation, or the open ones."""
    # /start after /stop: messages again (said first, whatever the link opens).
    resumed = await resume(scene, person)
    if consultation is not None:
        reply = await open_consultation(
            scene.session, person, consultation.id or 0, source, scene.now, scene.runtime.timezone
        )
    else:
        greeting = views.consultation_not_found() if missing else views.welcome_back()
        reply = Reply(send=[greeting, await consultation_list(scene.session, person, scene.now)])
    if resumed is not None:
        reply.send.insert(0, resumed)
    return reply


async def on_consent(update: Update, context: BotContext) -> None:
    """Store the decision on the privacy notice, then carry on where the person wanted to go."""
    data = cb.GiveConsent.unpack(callback_data(update))
    await answer(update, context, lambda scene: take_consent(scene, data, partial(_linked, data)))


async def _linked(data: cb.GiveConsent, scene: Scene, person: Participant) -> list[Outgoing]:
    """After a yes: the consultation the link pointed to, else help and the open ones."""
    if data.consultation_id:
        opened = await open_consultation(
            scene.session,
            person,
            data.consultation_id,
            data.source or None,
            scene.now,
            scene.runtime.timezone,
        )
        return opened.send
    return [views.help_message(), await consultation_list(scene.session, person, scene.now)]


async def choose_language(update: Update, context: BotContext) -> None:
    """Offer every UI language, each by its own name."""
    await answer(update, context, saying(privacy_views.language_choice))


async def on_language(update: Update, context: BotContext) -> None:
    """Switch language; stored only for people who consented, otherwise just shown."""
    query = update.callback_query
    assert query is not None
    data = cb.PickLanguage.unpack(query.data)
    if data.language not in LANGUAGES:
        raise cb.InvalidCallback("unknown language")
    pending = _pending_consent(getattr(query.message, "reply_markup", None))
    await answer(update, context, lambda scene: _switch_language(scene, data.language, pending))


async def _switch_language(scene: Scene, code: str, pending: cb.GiveConsent | None) -> Reply:
    set_language(code)
    person = scene.participant
    if person is not None and await has_consented(scene.session, person):
        await store_language(scene.session, person, code)
        # The question being answered again, in the new language, to carry on from.
        position = await current_position(scene.session, person, scene.now)
        again = [where_you_are(position)] if position and position.question else []
        return Reply(edit=privacy_views.language_chosen(), send=again)
    # Nothing is stored before consent: re-show the welcome, carrying the link along.
    if pending is not None:
        return Reply(edit=privacy_views.welcome(pending.consultation_id, pending.source))
    return Reply(edit=privacy_views.welcome())


def _pending_consent(markup: object) -> cb.GiveConsent | None:
    """Find the consent button on the pressed message, to keep its deep link on a switch."""
    for row in getattr(markup, "inline_keyboard", ()):
        for button in row:
            try:
                return cb.GiveConsent.unpack(button.callback_data)
            except (ValueError, TypeError):
                continue
    return None


async def show_help(update: Update, context: BotContext) -> None:
    """List the commands: a role's own first."""
    await _answer_with_menu(update, context, _help)


async def _help(scene: Scene, menu: Menu) -> Reply:
    return Reply(send=[views.help_message(await _roles(scene, menu))])


async def on_resident_welcome(update: Update, context: BotContext) -> None:
    """A staff member asks for the residents' welcome and privacy notice."""
    data = cb.ResidentWelcome.unpack(callback_data(update))
    await answer(update, context, lambda scene: _resident_welcome(data.language))


async def _resident_welcome(code: str) -> Reply:
    set_language(code)
    return Reply(send=[privacy_views.welcome()])
