"""Arenas for citizens: ``/arenas``, ``/start a_<slug>``, and the offers after a consultation.

Joining an arena is an opt-in (its :class:`models.arenas.Subscription` row records what and
when), and every place that offers it also offers to leave with one tap. At the end of a
consultation the person is asked whether they want to hear what came of it (a follow-up
opt-in, :mod:`models.followups`) and, when the consultation names an arena, whether they want
to join it.
"""

from __future__ import annotations

from datetime import datetime
from html import escape

from sqlmodel.ext.asyncio.session import AsyncSession
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from handlers import callbacks as cb
from handlers.common import Outgoing, Reply, Scene, answer
from handlers.context import BotContext, Runtime
from handlers.i18n import LANGUAGES, _, current_language, set_language
from handlers.privacy import consented, welcome
from handlers.render import title_of
from handlers.rsvp import citizen_card
from handlers.views.events import EventTexts
from models import events
from models.arenas import (
    Arena,
    find_arena,
    list_arenas,
    subscribe,
    subscribed_arena_ids,
    unsubscribe,
)
from models.consultation import Consultation
from models.followups import (
    followups_of,
    record_followup,
    resume_messages,
    wants_followup,
)
from models.participant import Participant, has_consented, record_privacy_decision
from models.reminders import cancel_finish_reminder
from models.response import Position

#: Upcoming events shown with an arena (its card, or after joining).
EVENTS_SHOWN = 3
BUTTON_LENGTH = 40


def _short(text: str, limit: int = BUTTON_LENGTH) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _name(arena: Arena) -> str:
    return arena.name_in(current_language())


def _description(arena: Arena) -> str:
    if not arena.description:
        return ""
    code = current_language()
    return arena.description.get(code) or next(iter(arena.description.values()), "")


def _toggle(arena: Arena, joined: bool, where: str) -> InlineKeyboardButton:
    if joined:
        label = _("✖ Leave {arena}").format(arena=_short(_name(arena), 30))
    else:
        label = _("🙋 Join {arena}").format(arena=_short(_name(arena), 30))
    return InlineKeyboardButton(
        label, callback_data=cb.ArenaToggle(arena.id or 0, 0 if joined else 1, where).pack()
    )


# ---------------------------------------------------------------------- /arenas


async def arenas_message(session: AsyncSession, participant: Participant) -> Outgoing:
    """Every arena with a join or leave button, then the follow-ups the person asked for."""
    arenas = await list_arenas(session)
    joined = await subscribed_arena_ids(session, participant.id or 0)
    lines = [
        _("<b>Arenas</b>"),
        _(
            "Meetings, groups and volunteering where you can take part. Join one to get "
            "invitations to what happens there; leave it any time."
        ),
    ]
    rows = []
    if not arenas:
        lines.append(_("There are no arenas yet. Please check again later."))
    for arena in arenas:
        member = arena.id in joined
        mark = "✅" if member else "▫️"
        lines.append("")
        lines.append(f"{mark} <b>{escape(_name(arena))}</b>")
        if _description(arena):
            lines.append(escape(_description(arena)))
        rows.append([_toggle(arena, member, "l")])
    followed = await followups_of(session, participant)
    if followed:
        lines += ["", _("<b>You will hear what came of</b>")]
        for consultation in followed:
            lines.append("• " + title_of(consultation))
            rows.append(
                [
                    InlineKeyboardButton(
                        _("🔕 Stop: {title}").format(
                            title=_short(
                                consultation.title.get(current_language())
                                or next(iter(consultation.title.values()), ""),
                                30,
                            )
                        ),
                        callback_data=cb.FollowUp(consultation.id or 0, 0, "l").pack(),
                    )
                ]
            )
    return Outgoing("\n".join(lines), InlineKeyboardMarkup(rows) if rows else None)


async def show_arenas(update: Update, context: BotContext) -> None:
    """List the arenas to join or leave."""

    async def action(scene: Scene) -> Reply:
        session = scene.session
        participant = scene.participant
        person = await consented(session, participant)
        return Reply(send=[await arenas_message(session, person)])

    await answer(update, context, action)


def arena_card(arena: Arena, joined: bool) -> Outgoing:
    """One arena, as its link opens it, with the button to join or leave."""
    lines = [f"🏷 <b>{escape(_name(arena))}</b>"]
    if _description(arena):
        lines.append(escape(_description(arena)))
    lines.append("")
    lines.append(
        _("You are a member: you get its invitations.")
        if joined
        else _("Join to get invitations to its meetings. You can leave any time.")
    )
    return Outgoing("\n".join(lines), InlineKeyboardMarkup([[_toggle(arena, joined, "c")]]))


def offer_message(arena: Arena, joined: bool) -> Outgoing:
    """The offer at the end of a consultation to join its arena (and its answered form)."""
    if joined:
        text = _("You joined <b>{arena}</b>. You will get invitations to its meetings.")
    else:
        text = _(
            "Would you like to take part in <b>{arena}</b>? Members get invitations to its "
            "meetings. You can leave any time."
        )
    lines = [text.format(arena=escape(_name(arena)))]
    if not joined and _description(arena):
        lines.append(escape(_description(arena)))
    return Outgoing("\n\n".join(lines), InlineKeyboardMarkup([[_toggle(arena, joined, "o")]]))


async def _coming_up(
    session: AsyncSession, arena: Arena, participant: Participant, runtime: Runtime, now: datetime
) -> list[Outgoing]:
    coming = await events.upcoming(session, now, arena_id=arena.id, limit=EVENTS_SHOWN)
    if not coming:
        return []
    return [
        Outgoing(_("<b>Coming up</b>:")),
        *[await citizen_card(session, event, participant, runtime.timezone) for event in coming],
    ]


async def on_toggle(update: Update, context: BotContext) -> None:
    """Join or leave an arena; the message the button was on shows the new state."""
    data = cb.ArenaToggle.unpack(update.callback_query.data if update.callback_query else None)
    if data.where not in ("l", "o", "c") or data.join not in (0, 1):
        raise cb.InvalidCallback("unknown arena action")
    runtime = context.runtime

    async def action(scene: Scene) -> Reply:
        session = scene.session
        participant = scene.participant
        now = scene.now
        person = await consented(session, participant)
        arena = await session.get(Arena, data.arena_id)
        if arena is None:
            return Reply(notice=_("That arena no longer exists. See /arenas."))
        was_member = arena.id in await subscribed_arena_ids(session, person.id or 0)
        if data.join:
            await subscribe(session, person.id or 0, arena.id or 0, now)
            notice = _("You joined {arena}.").format(arena=_name(arena))
        else:
            await unsubscribe(session, person.id or 0, arena.id or 0, now)
            notice = _("You left {arena}. You get no more invitations from it.").format(
                arena=_name(arena)
            )
        joined = bool(data.join)
        if data.where == "l":
            edit = await arenas_message(session, person)
        elif data.where == "o":
            edit = offer_message(arena, joined)
        else:
            edit = arena_card(arena, joined)
        send = []
        if joined and not was_member:
            send = await _coming_up(session, arena, person, runtime, now)
        return Reply(edit=edit, notice=notice, send=send)

    await answer(update, context, action)


# ---------------------------------------------------------------------- a_<slug> links


def _arena_welcome(arena_id: int, source: str) -> Outgoing:
    """The welcome with consent buttons that open the arena right after consent."""
    base = welcome(0, source)
    assert base.keyboard is not None
    rows = []
    for row in base.keyboard.inline_keyboard:
        buttons = []
        for button in row:
            try:
                data = cb.GiveConsent.unpack(button.callback_data)  # type: ignore[arg-type]
            except cb.InvalidCallback:
                buttons.append(button)
                continue
            buttons.append(
                InlineKeyboardButton(
                    button.text,
                    callback_data=cb.ArenaConsent(
                        data.granted, data.language, arena_id, data.source
                    ).pack(),
                )
            )
        rows.append(buttons)
    return Outgoing(base.text, InlineKeyboardMarkup(rows))


def _not_found() -> Outgoing:
    return Outgoing(
        _("I could not find that arena. It may have been removed, or the link is wrong.")
    )


async def arena_link(
    session: AsyncSession,
    participant: Participant | None,
    slug: str,
    source: str | None,
    runtime: Runtime,
    now: datetime,
) -> Reply:
    """``/start a_<slug>``: the arena with its join button (after consent, if needed)."""
    arena = await find_arena(session, slug)
    if not await has_consented(session, participant):
        if arena is None:
            return Reply(send=[_not_found(), welcome(0, source or "")])
        return Reply(send=[_arena_welcome(arena.id or 0, source or "")])
    assert participant is not None
    reply = Reply()
    resumed = await resume(session, participant, now, runtime)
    if resumed is not None:
        reply.send.append(resumed)
    if arena is None:
        reply.send += [_not_found(), await arenas_message(session, participant)]
        return reply
    joined = arena.id in await subscribed_arena_ids(session, participant.id or 0)
    reply.send.append(arena_card(arena, joined))
    reply.send += await _coming_up(session, arena, participant, runtime, now)
    return reply


async def resume(
    session: AsyncSession, participant: Participant, now: datetime, runtime: Runtime
) -> Outgoing | None:
    """Bring back someone who sent /stop; a line saying so, or None if they had not."""
    if await resume_messages(
        session, participant, now, EventTexts(runtime.timezone), runtime.reminder_policy()
    ):
        return Outgoing(_("You will get messages from us again: invitations, reminders and news."))
    return None


async def on_consent(update: Update, context: BotContext) -> None:
    """Store the decision on the privacy notice from an arena's link, then show the arena."""
    data = cb.ArenaConsent.unpack(update.callback_query.data if update.callback_query else None)
    chat = update.effective_chat
    user = update.effective_user
    assert chat is not None
    assert user is not None
    runtime = context.runtime

    async def action(scene: Scene) -> Reply:
        session = scene.session
        now = scene.now
        language = data.language if data.language in LANGUAGES else None
        if language:
            set_language(language)
        if not data.granted:
            await record_privacy_decision(session, user.id, chat.id, granted=False, now=now)
            return Reply(
                edit=Outgoing(
                    _(
                        "Okay. We have stored only that you said no. "
                        "If you change your mind, send /start."
                    )
                )
            )
        person = await record_privacy_decision(
            session,
            user.id,
            chat.id,
            granted=True,
            language=language,
            source=data.source or None,
            now=now,
        )
        reply = Reply(edit=Outgoing(_("Thank you! /privacy tells you what we store.")))
        resumed = await resume(session, person, now, runtime)
        if resumed is not None:
            reply.send.append(resumed)
        arena = await session.get(Arena, data.arena_id)
        if arena is None:
            reply.send += [_not_found(), await arenas_message(session, person)]
            return reply
        joined = arena.id in await subscribed_arena_ids(session, person.id or 0)
        reply.send.append(arena_card(arena, joined))
        reply.send += await _coming_up(session, arena, person, runtime, now)
        return reply

    await answer(update, context, action)


# ---------------------------------------------------------------------- after a consultation


def followup_offer(consultation: Consultation, wanted: bool | None) -> Outgoing:
    """The question whether to hear what came of it, or its answered form with an undo."""
    cid = consultation.id or 0
    title = title_of(consultation)
    if wanted is None:
        text = _(
            "May we tell you what came of this? When the municipality has decided, we send "
            "you one message about <b>{title}</b>."
        )
        buttons = [
            InlineKeyboardButton(
                _("✅ Yes, tell me"), callback_data=cb.FollowUp(cid, 1, "o").pack()
            ),
            InlineKeyboardButton(_("No thanks"), callback_data=cb.FollowUp(cid, 0, "o").pack()),
        ]
    elif wanted:
        text = _("Thank you! We will tell you what came of <b>{title}</b>.")
        buttons = [
            InlineKeyboardButton(
                _("🔕 No, do not tell me"), callback_data=cb.FollowUp(cid, 0, "o").pack()
            )
        ]
    else:
        text = _("Okay, we will not send you news about <b>{title}</b>.")
        buttons = [
            InlineKeyboardButton(
                _("🔔 Tell me after all"), callback_data=cb.FollowUp(cid, 1, "o").pack()
            )
        ]
    return Outgoing(text.format(title=title), InlineKeyboardMarkup([buttons]))


async def after_completion(
    session: AsyncSession, participant: Participant, position: Position, now: datetime
) -> list[Outgoing]:
    """What follows a first completion: no reminder to finish, and the two offers."""
    await cancel_finish_reminder(session, position.response.id or 0)
    consultation = position.view.consultation
    offers = [
        followup_offer(
            consultation, await wants_followup(session, participant.id or 0, consultation)
        )
    ]
    if consultation.arena_slug:
        arena = await find_arena(session, consultation.arena_slug)
        if arena is not None and arena.id not in await subscribed_arena_ids(
            session, participant.id or 0
        ):
            offers.append(offer_message(arena, joined=False))
    return offers


async def on_followup(update: Update, context: BotContext) -> None:
    """Record yes or no to hearing what came of a consultation; withdrawable with one tap."""
    data = cb.FollowUp.unpack(update.callback_query.data if update.callback_query else None)
    if data.where not in ("o", "l") or data.wanted not in (0, 1):
        raise cb.InvalidCallback("unknown follow-up action")

    async def action(scene: Scene) -> Reply:
        session = scene.session
        participant = scene.participant
        now = scene.now
        person = await consented(session, participant)
        consultation = await session.get(Consultation, data.consultation_id)
        if consultation is None:
            return Reply(notice=_("That consultation no longer exists."))
        wanted = bool(data.wanted)
        await record_followup(session, person, consultation, wanted, now)
        notice = (
            _("We will tell you what came of it.")
            if wanted
            else _("Okay: no news about it will be sent to you.")
        )
        if data.where == "l":
            return Reply(edit=await arenas_message(session, person), notice=notice)
        return Reply(edit=followup_offer(consultation, wanted), notice=notice)

    await answer(update, context, action)
