"""Staff broadcast to audiences: compose, preview, confirm, then pause, resume or cancel.

``/broadcast`` (or "📣 Broadcast" in /manage) starts a draft :class:`models.outbox.Broadcast`:
the draft row is the conversation, so a restart or another replica carries on where the staff
member was. Steps: content (a consultation or a typed announcement) → audience → a preview
of exactly what recipients get, in each of their languages, and the count → send now or at a
set time. Confirming turns the confirmation message into the progress message that the
delivery worker (``bot/delivery.py``) edits in place until its report.

What recipients get is rendered here too (:func:`recipient_message`), by the preview and by
the worker alike, so the preview cannot drift from what is sent.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from html import escape, unescape
from zoneinfo import ZoneInfo

from sqlmodel.ext.asyncio.session import AsyncSession
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from handlers import callbacks as cb
from handlers import consult
from handlers.common import Abort, Outgoing, Reply, Scene, answer
from handlers.context import BotContext, Runtime
from handlers.i18n import LANGUAGE_NAMES, LANGUAGES, _, current_language, language, ngettext
from handlers.staff import authorized, refusal
from models import outbox
from models.arenas import arenas_with_subscribers
from models.base import localized
from models.consultation import Consultation, is_open, list_consultations, open_consultations
from models.outbox import (
    ANNOUNCEMENT_LIMIT,
    Audience,
    AudienceKind,
    Broadcast,
    BroadcastState,
    Counts,
    QuietHours,
)
from models.roles import Role, audit

#: A draft waits this long for the staff member's typed text; after that their typed messages
#: are answers to consultations again.
DRAFT_TEXT_WINDOW = timedelta(hours=1)
MENU_SIZE = 8
LABEL_LENGTH = 50
_TAGS = re.compile(r"<[^>]+>")


# ---------------------------------------------------------------------- what recipients get


def recipient_message(
    broadcast: Broadcast, consultation: Consultation | None, code: str
) -> Outgoing:
    """The message one recipient gets, in their language ``code``.

    A consultation's invitation (title, intro, a button to start) in the consultation's
    language closest to ``code``; an announcement in ``code`` when staff wrote that version,
    else in the language it was written in first.
    """
    with language(code):
        if consultation is not None:
            fallback = consultation.languages[0]
            parts = [f"<b>{escape(localized(consultation.title, code, fallback))}</b>"]
            if consultation.intro:
                parts.append(escape(localized(consultation.intro, code, fallback)))
            parts.append(_("We would like to hear what you think. It takes a few minutes."))
            keyboard = InlineKeyboardMarkup(
                [
                    [
                        InlineKeyboardButton(
                            _("▶ Answer"),
                            callback_data=cb.OpenConsultation(consultation.id or 0).pack(),
                        )
                    ]
                ]
            )
            return Outgoing("\n\n".join(parts), keyboard)
        texts = broadcast.text or {}
        text = texts.get(code) or texts.get(broadcast.language or "") or ""
        return Outgoing(text or next(iter(texts.values()), ""))


def recipient_payload(
    broadcast: Broadcast, consultation: Consultation | None, code: str
) -> dict[str, object]:
    """:func:`recipient_message` as Bot API ``sendMessage`` fields (all but ``chat_id``)."""
    message = recipient_message(broadcast, consultation, code)
    payload: dict[str, object] = {"text": message.text, "parse_mode": "HTML"}
    if message.keyboard is not None:
        payload["reply_markup"] = message.keyboard.to_dict()
    return payload


# ---------------------------------------------------------------------- progress and report


def label(broadcast: Broadcast, consultation: Consultation | None) -> str:
    """A short name for the broadcast, in the reader's language, escaped."""
    if consultation is not None:
        return escape(localized(consultation.title, current_language(), consultation.languages[0]))
    texts = broadcast.text or {}
    plain = unescape(_TAGS.sub("", texts.get(broadcast.language or "", "") or "")).strip()
    plain = " ".join(plain.split())
    if len(plain) > LABEL_LENGTH:
        plain = plain[: LABEL_LENGTH - 1] + "…"
    return escape(plain) or _("Announcement")


def local_time(moment: datetime, zone: str, now: datetime) -> str:
    """A time as staff read it: ``14:05`` today, ``20.01 14:05`` another day."""
    tz = ZoneInfo(zone)
    shown, today = moment.astimezone(tz), now.astimezone(tz)
    if shown.date() == today.date():
        return f"{shown:%H:%M}"
    if shown.year == today.year:
        return f"{shown:%d.%m %H:%M}"
    return f"{shown:%d.%m.%Y %H:%M}"


def expected_finish(
    remaining: int,
    *,
    now: datetime,
    rate: float,
    quiet: QuietHours | None,
    urgent: bool,
) -> datetime:
    """When the remaining messages will have gone out at ``rate``, after quiet hours."""
    start = now if urgent or quiet is None else quiet.ends(now)
    return start + timedelta(seconds=remaining / rate)


def controls(broadcast: Broadcast) -> InlineKeyboardMarkup | None:
    """Buttons under the progress message for the broadcast's state."""
    bid = broadcast.id or 0
    row = []
    if broadcast.state == BroadcastState.RUNNING:
        row.append(_control(_("⏸ Pause"), bid, "pause"))
    elif broadcast.state == BroadcastState.PAUSED:
        row.append(_control(_("▶ Resume"), bid, "resume"))
    if broadcast.state in outbox.ACTIVE_STATES:
        row.append(_control(_("✖ Cancel"), bid, "cancel"))
        row.append(_control("🔄", bid, "show"))
        return InlineKeyboardMarkup([row])
    return None


def _control(text: str, broadcast_id: int, action: str) -> InlineKeyboardButton:
    return InlineKeyboardButton(
        text, callback_data=cb.BroadcastControl(broadcast_id, action).pack()
    )


def progress_message(
    broadcast: Broadcast,
    consultation: Consultation | None,
    counts: Counts,
    runtime: Runtime,
    now: datetime,
) -> Outgoing:
    """The staff member's view of a confirmed broadcast: counts, state, finish time, controls."""
    zone = runtime.timezone
    lines = [f"📣 <b>{label(broadcast, consultation)}</b>"]
    # Before all deliveries are written, those not yet written count as remaining.
    unwritten = 0
    if broadcast.queued_at is None and broadcast.audience_size:
        unwritten = max(broadcast.audience_size - counts.total, 0)
    remaining = counts.pending + unwritten
    state = broadcast.state
    if state == BroadcastState.SCHEDULED:
        when = broadcast.scheduled_at or now
        size = broadcast.audience_size or 0
        if when <= now:
            lines.append(_("Starting in a moment."))
        else:
            lines.append(_("Scheduled for {time}.").format(time=local_time(when, zone, now)))
        lines.append(ngettext("To {n} person.", "To {n} people.", size).format(n=size))
    elif state in (BroadcastState.DONE, BroadcastState.CANCELLED):
        total = counts.total
        lines.append(_("✅ Done.") if state == BroadcastState.DONE else _("✖ Cancelled."))
        lines.append(
            ngettext(
                "Sent to {sent} of {total} person.", "Sent to {sent} of {total} people.", total
            ).format(sent=counts.sent, total=total)
        )
        lines.append(_counts_line(counts, remaining=None))
    else:
        if state == BroadcastState.PAUSED:
            lines.append(_("⏸ Paused. Nothing is sent until you resume."))
        elif (
            runtime.quiet_hours is not None
            and not broadcast.urgent
            and runtime.quiet_hours.is_quiet(now)
        ):
            lines.append(
                _("Quiet hours: sending waits until {time}.").format(
                    time=local_time(runtime.quiet_hours.ends(now), zone, now)
                )
            )
        else:
            lines.append(_("Sending…"))
        lines.append(_counts_line(counts, remaining=remaining))
        if state == BroadcastState.RUNNING and remaining:
            finish = expected_finish(
                remaining,
                now=now,
                rate=runtime.broadcast_rate,
                quiet=runtime.quiet_hours,
                urgent=broadcast.urgent,
            )
            lines.append(
                _("Expected to finish around {time}.").format(time=local_time(finish, zone, now))
            )
    return Outgoing("\n".join(lines), controls(broadcast))


def _counts_line(counts: Counts, *, remaining: int | None) -> str:
    parts = [
        _("sent {n}").format(n=counts.sent),
        _("failed {n}").format(n=counts.failed),
        _("unreachable {n}").format(n=counts.unreachable),
    ]
    if remaining is not None:
        parts.append(_("remaining {n}").format(n=remaining))
    elif counts.cancelled:
        parts.append(_("not sent {n}").format(n=counts.cancelled))
    line = " · ".join(parts)
    return line[:1].upper() + line[1:]


def report_message(
    broadcast: Broadcast, consultation: Consultation | None, counts: Counts, runtime: Runtime
) -> Outgoing:
    """The report sent when a broadcast has finished or was cancelled."""
    done = broadcast.state == BroadcastState.DONE
    lines = [
        (_("📣 <b>Broadcast finished</b>") if done else _("📣 <b>Broadcast cancelled</b>"))
        + ": "
        + label(broadcast, consultation),
        ngettext(
            "{sent} of {total} person got it.", "{sent} of {total} people got it.", counts.total
        ).format(sent=counts.sent, total=counts.total),
    ]
    if counts.failed:
        lines.append(
            ngettext(
                "{n} message failed after several tries.",
                "{n} messages failed after several tries.",
                counts.failed,
            ).format(n=counts.failed)
        )
    if counts.unreachable:
        lines.append(
            ngettext(
                "{n} person has blocked the bot and was not reached.",
                "{n} people have blocked the bot and were not reached.",
                counts.unreachable,
            ).format(n=counts.unreachable)
        )
    if counts.cancelled:
        lines.append(
            ngettext(
                "{n} person did not get it (cancelled or withdrew consent).",
                "{n} people did not get it (cancelled or withdrew consent).",
                counts.cancelled,
            ).format(n=counts.cancelled)
        )
    if broadcast.started_at is not None and broadcast.finished_at is not None:
        minutes = max(
            round((broadcast.finished_at - broadcast.started_at).total_seconds() / 60), 1
        )
        lines.append(
            ngettext("It took {n} minute.", "It took {n} minutes.", minutes).format(n=minutes)
        )
    return Outgoing("\n".join(lines))


# ---------------------------------------------------------------------- composing


def _audience_text(audience: Audience, names: dict[str, str]) -> str:
    if audience.kind == AudienceKind.CONSENTED:
        return _("everyone who agreed to take part")
    if audience.kind == AudienceKind.ARENA:
        return _("members of {arena}").format(arena=names.get("arena", "?"))
    if audience.kind == AudienceKind.UNFINISHED:
        return _("people who started {title} but did not finish").format(
            title=names.get("consultation", "?")
        )
    return _("people who came from the link source {source}").format(
        source=f"<code>{escape(audience.ref)}</code>"
    )


async def _audience_names(session: AsyncSession, audience: Audience) -> dict[str, str]:
    names: dict[str, str] = {}
    if audience.kind == AudienceKind.ARENA:
        arena = await outbox.arena_by_id(session, audience.ref_id)
        names["arena"] = escape(arena.name_in(current_language())) if arena else "?"
    elif audience.kind == AudienceKind.UNFINISHED:
        consultation = await session.get(Consultation, audience.ref_id)
        names["consultation"] = label(Broadcast(), consultation) if consultation else "?"
    return names


def _button(text: str, data: cb.CallbackData) -> list[InlineKeyboardButton]:
    return [InlineKeyboardButton(text, callback_data=data.pack())]


def _drop_button(broadcast_id: int) -> list[InlineKeyboardButton]:
    return _button(_("✖ Cancel"), cb.BroadcastOption(broadcast_id, "drop"))


async def _content_menu(session: AsyncSession, draft: Broadcast, now: datetime) -> Outgoing:
    bid = draft.id or 0
    lines = [_("<b>New broadcast</b>"), _("What do you want to send?")]
    rows = [
        _button("📋 " + label(draft, c), cb.BroadcastPick(bid, c.id or 0))
        for c in (await open_consultations(session, now))[:MENU_SIZE]
    ]
    rows.append(_button(_("✏ Write an announcement"), cb.BroadcastPick(bid, 0)))
    active = await outbox.active_broadcasts(session)
    if active:
        lines.append("")
        lines.append(_("<b>Under way</b>"))
        for broadcast in active[:MENU_SIZE]:
            consultation = (
                await session.get(Consultation, broadcast.consultation_id)
                if broadcast.consultation_id
                else None
            )
            state = _state_name(broadcast.state)
            lines.append(f"• #{broadcast.id} {label(broadcast, consultation)} ({state})")
            rows.append(
                _button(f"⚙ #{broadcast.id}", cb.BroadcastControl(broadcast.id or 0, "show"))
            )
    rows.append(_drop_button(bid))
    return Outgoing("\n".join(lines), InlineKeyboardMarkup(rows))


def _state_name(state: str) -> str:
    return {
        BroadcastState.SCHEDULED: _("scheduled"),
        BroadcastState.RUNNING: _("sending"),
        BroadcastState.PAUSED: _("paused"),
    }.get(BroadcastState(state), state)


def _audience_menu(draft: Broadcast) -> Outgoing:
    bid = draft.id or 0
    unfinished_ref = str(draft.consultation_id or "")
    rows = [
        _button(
            _("👥 Everyone who agreed to take part"),
            cb.BroadcastAudience(bid, AudienceKind.CONSENTED, ""),
        ),
        _button(_("🏷 Members of an arena"), cb.BroadcastAudience(bid, AudienceKind.ARENA, "")),
        _button(
            _("⏸ Started a consultation but did not finish"),
            cb.BroadcastAudience(bid, AudienceKind.UNFINISHED, unfinished_ref),
        ),
        _button(
            _("🔗 Came from a link source"), cb.BroadcastAudience(bid, AudienceKind.SOURCE, "")
        ),
        _drop_button(bid),
    ]
    return Outgoing(_("<b>Who should get it?</b>"), InlineKeyboardMarkup(rows))


def _text_prompt(draft: Broadcast, code: str) -> Outgoing:
    text = _(
        "Write the announcement in {language} as your next message. Bold, italics and links "
        "are kept. At most {limit} characters."
    ).format(language=LANGUAGE_NAMES.get(code, code), limit=ANNOUNCEMENT_LIMIT)
    return Outgoing(text, InlineKeyboardMarkup([_drop_button(draft.id or 0)]))


def _schedule_prompt(draft: Broadcast, runtime: Runtime) -> Outgoing:
    text = _(
        "When should it be sent? Write a date and time, for example {example} (time in {zone})."
    ).format(example="<code>20.01 09:30</code>", zone=escape(runtime.timezone))
    keyboard = InlineKeyboardMarkup(
        [
            _button(_("◀ Back"), cb.BroadcastOption(draft.id or 0, "back")),
            _drop_button(draft.id or 0),
        ]
    )
    return Outgoing(text, keyboard)


def _inert(
    keyboard: InlineKeyboardMarkup | None, consultation_id: int
) -> InlineKeyboardMarkup | None:
    if keyboard is None:
        return None
    data = cb.PreviewOnly(consultation_id).pack()
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(b.text, callback_data=data) for b in row]
            for row in keyboard.inline_keyboard
        ]
    )


async def _confirm_screen(
    session: AsyncSession, draft: Broadcast, runtime: Runtime, now: datetime, *, previews: bool
) -> list[Outgoing]:
    """Previews in every language the audience reads, then the summary with the buttons."""
    audience = Audience.from_json(draft.audience)
    assert audience is not None
    consultation = (
        await session.get(Consultation, draft.consultation_id) if draft.consultation_id else None
    )
    messages: list[Outgoing] = []
    size = await outbox.count_audience(session, audience)
    if previews:
        languages = await outbox.audience_languages(session, audience, runtime.default_language)
        for code, count in (languages or {current_language(): 0}).items():
            heading = ngettext(
                "<b>Preview in {language}</b> ({n} person):",
                "<b>Preview in {language}</b> ({n} people):",
                count,
            ).format(language=LANGUAGE_NAMES.get(code, code), n=count)
            message = recipient_message(draft, consultation, code)
            messages.append(Outgoing(heading))
            messages.append(
                Outgoing(message.text, _inert(message.keyboard, draft.consultation_id or 0))
            )
    bid = draft.id or 0
    when = draft.scheduled_at if draft.scheduled_at and draft.scheduled_at > now else None
    lines = [
        _("<b>Ready to send</b>"),
        _("Content: {content}").format(content=label(draft, consultation)),
        _("Audience: {audience}").format(
            audience=_audience_text(audience, await _audience_names(session, audience))
        ),
        ngettext("That is {n} person now.", "That is {n} people now.", size).format(n=size),
        _("When: {time}").format(time=local_time(when, runtime.timezone, now))
        if when
        else _("When: now"),
    ]
    quiet = runtime.quiet_hours
    if draft.urgent:
        lines.append(_("Urgent: it is sent during quiet hours too."))
    elif quiet is not None:
        lines.append(
            _(
                "Quiet hours are {hours}: nothing is sent then, it waits until they are over."
            ).format(hours=str(quiet))
        )
    if draft.text:
        written = ", ".join(LANGUAGE_NAMES.get(c, c) for c in draft.text)
        lines.append(_("Written in: {languages}").format(languages=written))
    rows = []
    if size:
        send = (
            ngettext("✅ Schedule for {n} person", "✅ Schedule for {n} people", size)
            if when
            else ngettext("✅ Send to {n} person", "✅ Send to {n} people", size)
        )
        rows.append(_button(send.format(n=size), cb.BroadcastOption(bid, "send")))
    else:
        lines.append(_("Nobody is in this audience. Choose another."))
    rows.append(
        _button(_("▶ Send now instead"), cb.BroadcastOption(bid, "now"))
        if when
        else _button(_("🕒 Schedule for later"), cb.BroadcastOption(bid, "schedule"))
    )
    rows.append(
        _button(
            _("🚨 Urgent: on") if draft.urgent else _("🚨 Urgent: off"),
            cb.BroadcastOption(bid, "urgent"),
        )
    )
    if draft.text:
        missing = [code for code in LANGUAGES if code not in draft.text]
        if missing:
            rows.append(
                [
                    InlineKeyboardButton(
                        "+ " + LANGUAGE_NAMES[code],
                        callback_data=cb.BroadcastOption(bid, f"lang-{code}").pack(),
                    )
                    for code in missing
                ]
            )
    rows.append(_button(_("👥 Change the audience"), cb.BroadcastOption(bid, "audience")))
    rows.append(_drop_button(bid))
    messages.append(Outgoing("\n".join(lines), InlineKeyboardMarkup(rows)))
    return messages


def parse_when(text: str, now: datetime, zone: str) -> datetime | None:
    """Read a local date and time staff typed; None when it is not one.

    Accepts ``20.01 09:30``, ``20.01.2027 09:30``, ``2027-01-20 09:30`` and ``09:30`` (the
    next time the clock shows it).
    """
    tz = ZoneInfo(zone)
    local_now = now.astimezone(tz)
    value = " ".join(text.strip().replace("kl.", " ").replace("kl", " ").split())
    attempts = [
        (value, "%d.%m.%Y %H:%M"),
        (value, "%Y-%m-%d %H:%M"),
        (f"{value.split(' ')[0]}.{local_now.year} {value.partition(' ')[2]}", "%d.%m.%Y %H:%M"),
    ]
    for candidate, pattern in attempts:
        try:
            parsed = datetime.strptime(candidate, pattern).replace(tzinfo=tz)
        except ValueError:
            continue
        return parsed.astimezone(UTC)
    try:
        clock = datetime.strptime(value, "%H:%M").replace(tzinfo=tz)
    except ValueError:
        return None
    today = local_now.replace(hour=clock.hour, minute=clock.minute, second=0, microsecond=0)
    if today <= local_now:
        today = (today + timedelta(days=1)).replace(hour=clock.hour, minute=clock.minute)
    return today.astimezone(UTC)


# ---------------------------------------------------------------------- handlers


def _gone() -> Reply:
    return Reply(notice=_("This draft is no longer open. Send /broadcast to start again."))


def _data(update: Update) -> str | None:
    return update.callback_query.data if update.callback_query else None


async def _own_draft(session: AsyncSession, update: Update, broadcast_id: int) -> Broadcast | None:
    """The presser's own draft with this id, or None (sent already, dropped, someone else's)."""
    draft = await session.get(Broadcast, broadcast_id)
    user = update.effective_user
    if (
        draft is None
        or user is None
        or draft.state != BroadcastState.DRAFT
        or draft.created_by != user.id
    ):
        return None
    return draft


async def broadcast(update: Update, context: BotContext) -> None:
    """``/broadcast``: start composing a broadcast; shows the ones under way too."""
    user = update.effective_user
    chat = update.effective_chat
    assert user is not None
    assert chat is not None

    async def action(scene: Scene) -> Reply:
        session = scene.session
        now = scene.now
        if not await authorized(session, update, context, Role.STAFF, "/broadcast"):
            return refusal(update)
        draft = await outbox.new_draft(session, user.id, chat.id, current_language(), now)
        return Reply(send=[await _content_menu(session, draft, now)])

    await answer(update, context, action)


async def on_new(update: Update, context: BotContext) -> None:
    """Start a broadcast of one consultation from its /manage message."""
    data = cb.BroadcastNew.unpack(_data(update))
    user = update.effective_user
    chat = update.effective_chat
    assert user is not None
    assert chat is not None

    async def action(scene: Scene) -> Reply:
        session = scene.session
        now = scene.now
        if not await authorized(session, update, context, Role.STAFF, "broadcast.new"):
            return refusal(update)
        consultation = await session.get(Consultation, data.consultation_id)
        if consultation is None:
            return Reply(notice=_("That consultation no longer exists."))
        if not is_open(consultation, now):
            return Reply(notice=_not_open())
        draft = await outbox.new_draft(
            session, user.id, chat.id, current_language(), now, consultation.id
        )
        return Reply(send=[_audience_menu(draft)])

    await answer(update, context, action)


def _not_open() -> str:
    return _("Open the consultation first: nobody can answer it now.")


async def on_pick(update: Update, context: BotContext) -> None:
    """Take the draft's content: a consultation, or ask for an announcement's text."""
    data = cb.BroadcastPick.unpack(_data(update))

    async def action(scene: Scene) -> Reply:
        session = scene.session
        now = scene.now
        if not await authorized(session, update, context, Role.STAFF, "broadcast.pick"):
            return refusal(update)
        draft = await _own_draft(session, update, data.broadcast_id)
        if draft is None:
            return _gone()
        draft.updated_at = now
        if data.consultation_id == 0:
            draft.consultation_id = None
            draft.step = f"text:{current_language()}"
            return Reply(edit=_text_prompt(draft, current_language()))
        consultation = await session.get(Consultation, data.consultation_id)
        if consultation is None or not is_open(consultation, now):
            return Reply(notice=_not_open())
        draft.consultation_id = consultation.id
        draft.text = None
        draft.step = "audience"
        return Reply(edit=_audience_menu(draft))

    await answer(update, context, action)


async def on_audience(update: Update, context: BotContext) -> None:
    """Take the draft's audience, or show the arenas, consultations or sources to pick from."""
    data = cb.BroadcastAudience.unpack(_data(update))
    try:
        kind = AudienceKind(data.kind)
    except ValueError:
        raise cb.InvalidCallback("unknown audience") from None

    async def action(scene: Scene) -> Reply:
        session = scene.session
        now = scene.now
        if not await authorized(session, update, context, Role.STAFF, "broadcast.audience"):
            return refusal(update)
        draft = await _own_draft(session, update, data.broadcast_id)
        if draft is None:
            return _gone()
        bid = draft.id or 0
        if kind != AudienceKind.CONSENTED and not data.ref:
            choices = await _choices(session, bid, kind)
            if not choices:
                return Reply(notice=_no_choices(kind))
            title = {
                AudienceKind.ARENA: _("<b>Which arena?</b>"),
                AudienceKind.UNFINISHED: _("<b>Which consultation?</b>"),
                AudienceKind.SOURCE: _("<b>Which link source?</b>"),
            }[kind]
            rows = [*choices, _button(_("◀ Back"), cb.BroadcastOption(bid, "audience"))]
            return Reply(edit=Outgoing(title, InlineKeyboardMarkup(rows)))
        audience = Audience(kind, data.ref)
        if not await _audience_exists(session, audience):
            return Reply(notice=_("That choice no longer exists."))
        draft.audience = audience.to_json()
        draft.step = "confirm"
        draft.updated_at = now
        names = await _audience_names(session, audience)
        return Reply(
            edit=Outgoing(
                _("Audience: {audience}").format(audience=_audience_text(audience, names))
            ),
            send=await _confirm_screen(session, draft, context.runtime, now, previews=True),
        )

    await answer(update, context, action)


async def _audience_exists(session: AsyncSession, audience: Audience) -> bool:
    if audience.kind == AudienceKind.ARENA:
        return await outbox.arena_by_id(session, audience.ref_id) is not None
    if audience.kind == AudienceKind.UNFINISHED:
        return await session.get(Consultation, audience.ref_id) is not None
    return True


def _no_choices(kind: AudienceKind) -> str:
    if kind == AudienceKind.ARENA:
        return _("There are no arenas yet.")
    if kind == AudienceKind.SOURCE:
        return _("Nobody has come from a link source yet.")
    return _("There are no consultations yet.")


async def _choices(
    session: AsyncSession, bid: int, kind: AudienceKind
) -> list[list[InlineKeyboardButton]]:
    if kind == AudienceKind.ARENA:
        return [
            _button(
                f"{arena.name_in(current_language())} ({count})",
                cb.BroadcastAudience(bid, kind, str(arena.id)),
            )
            for arena, count in (await arenas_with_subscribers(session))[:MENU_SIZE]
        ]
    if kind == AudienceKind.UNFINISHED:
        rows = list(reversed(await list_consultations(session)))[:MENU_SIZE]
        return [
            _button(
                f"{label(Broadcast(), c)} ({started - completed})",
                cb.BroadcastAudience(bid, kind, str(c.id)),
            )
            for c, started, completed in rows
        ]
    return [
        _button(f"{source} ({count})", cb.BroadcastAudience(bid, kind, source))
        for source, count in await outbox.known_sources(session, MENU_SIZE)
        # Callback data holds the source; deep-link sources are short and have no ':'.
        if ":" not in source and len(source.encode()) <= 40
    ]


async def on_option(update: Update, context: BotContext) -> None:
    """Act on a draft's button: send, schedule, urgent, languages, audience, drop."""
    data = cb.BroadcastOption.unpack(_data(update))
    query = update.callback_query
    assert query is not None
    message_id = query.message.message_id if query.message else None
    actor = update.effective_user.id if update.effective_user else None

    async def action(scene: Scene) -> Reply:
        session = scene.session
        now = scene.now
        if not await authorized(session, update, context, Role.STAFF, "broadcast.option"):
            return refusal(update)
        draft = await _own_draft(session, update, data.broadcast_id)
        if draft is None:
            return _gone()
        runtime = context.runtime
        option = data.option
        draft.updated_at = now
        if option == "drop":
            await session.delete(draft)
            return Reply(edit=Outgoing(_("Cancelled. Nothing was sent.")))
        if option == "audience":
            draft.step = "audience"
            return Reply(edit=_audience_menu(draft))
        if option.startswith("lang-") and option[5:] in LANGUAGES and draft.text:
            draft.step = f"text:{option[5:]}"
            return Reply(edit=_text_prompt(draft, option[5:]))
        if draft.audience is None or not outbox.has_content(draft):
            return _gone()
        if option == "schedule":
            draft.step = "schedule"
            return Reply(edit=_schedule_prompt(draft, runtime))
        if option in ("now", "urgent", "back"):
            if option == "now":
                draft.scheduled_at = None
            elif option == "urgent":
                draft.urgent = not draft.urgent
            draft.step = "confirm"
            screen = await _confirm_screen(session, draft, runtime, now, previews=False)
            return Reply(edit=screen[-1])
        if option != "send":
            raise cb.InvalidCallback("unknown option")
        consultation = (
            await session.get(Consultation, draft.consultation_id)
            if draft.consultation_id
            else None
        )
        if consultation is not None and not is_open(consultation, now):
            return Reply(notice=_not_open())
        size = await outbox.confirm(session, draft, now, message_id)
        if not size:
            # Rolls the confirmation back: the draft stays a draft.
            raise Abort(Reply(notice=_("Nobody is in this audience. Choose another.")))
        await audit(
            session,
            actor,
            "broadcast.confirm",
            f"broadcast:{draft.id}",
            {
                "audience": draft.audience,
                "size": size,
                "scheduled_at": draft.scheduled_at.isoformat() if draft.scheduled_at else None,
                "urgent": draft.urgent,
            },
            now=now,
        )
        notice = (
            _("Scheduled.") if draft.scheduled_at and draft.scheduled_at > now else _("Sending.")
        )
        return Reply(
            edit=progress_message(draft, consultation, Counts(), runtime, now), notice=notice
        )

    await answer(update, context, action)


async def on_control(update: Update, context: BotContext) -> None:
    """Show, pause, resume or cancel a confirmed broadcast (any staff member may)."""
    data = cb.BroadcastControl.unpack(_data(update))
    if data.action not in ("show", "pause", "resume", "cancel", "cancel!"):
        raise cb.InvalidCallback("unknown action")
    actor = update.effective_user.id if update.effective_user else None

    async def action(scene: Scene) -> Reply:
        session = scene.session
        now = scene.now
        if not await authorized(session, update, context, Role.STAFF, "broadcast.control"):
            return refusal(update)
        found = await session.get(Broadcast, data.broadcast_id)
        if found is None or found.state == BroadcastState.DRAFT:
            return Reply(notice=_("That broadcast no longer exists."))
        consultation = (
            await session.get(Consultation, found.consultation_id)
            if found.consultation_id
            else None
        )
        notice = None
        if data.action == "cancel":
            if found.state not in outbox.ACTIVE_STATES:
                return Reply(notice=_("It has already ended."))
            counts = await outbox.delivery_counts(session, found.id or 0)
            left = counts.pending + max((found.audience_size or 0) - counts.total, 0)
            keyboard = InlineKeyboardMarkup(
                [
                    [
                        _control(_("Yes, stop the broadcast"), found.id or 0, "cancel!"),
                        _control(_("No, carry on"), found.id or 0, "show"),
                    ]
                ]
            )
            text = ngettext(
                "Cancel the broadcast? {n} person has not got it yet; they will not.",
                "Cancel the broadcast? {n} people have not got it yet; they will not.",
                left,
            ).format(n=left)
            return Reply(edit=Outgoing(text, keyboard))
        change = {
            "pause": outbox.pause,
            "resume": outbox.resume,
            "cancel!": outbox.cancel,
        }.get(data.action)
        if change is not None:
            if await change(session, found, now):
                name = "cancel" if data.action == "cancel!" else data.action
                await audit(session, actor, f"broadcast.{name}", f"broadcast:{found.id}", now=now)
                notice = {
                    "pause": _("Paused."),
                    "resume": _("Resumed."),
                    "cancel!": _("Cancelled."),
                }[data.action]
            else:
                notice = _("It is not in a state where that can be done.")
        counts = await outbox.delivery_counts(session, found.id or 0)
        return Reply(
            edit=progress_message(found, consultation, counts, context.runtime, now), notice=notice
        )

    await answer(update, context, action)


def _waits_for_text(draft: Broadcast) -> bool:
    return bool(draft.step) and (draft.step == "schedule" or str(draft.step).startswith("text:"))


async def on_text(update: Update, context: BotContext) -> None:
    """Typed text: a staff member's announcement or time when their draft waits for one.

    Everyone else's text (and staff's when no draft waits) is an answer to a consultation,
    handled by :func:`handlers.consult.on_text`. The check reads the database, so it is made
    here rather than in a filter; it is one indexed read and is not part of the transaction,
    so a citizen's answer is handled exactly as without broadcasts.
    """
    user = update.effective_user
    message = update.effective_message
    assert user is not None
    assert message is not None
    runtime = context.runtime
    async with runtime.sessionmaker() as session:
        draft = await outbox.current_draft(
            session, user.id, since=runtime.clock() - DRAFT_TEXT_WINDOW
        )
    if draft is None or not _waits_for_text(draft):
        await consult.on_text(update, context)
        return
    typed = message.text or ""
    html = message.text_html if message.text else ""

    async def action(scene: Scene) -> Reply:
        session = scene.session
        now = scene.now
        if not await authorized(session, update, context, Role.STAFF, "broadcast.text"):
            return refusal(update)
        found = await outbox.current_draft(session, user.id, since=now - DRAFT_TEXT_WINDOW)
        if found is None or not _waits_for_text(found):
            return Reply(
                send=[Outgoing(_("This draft is no longer open. Send /broadcast to start again."))]
            )
        found.updated_at = now
        if found.step == "schedule":
            when = parse_when(typed, now, context.runtime.timezone)
            if when is None:
                return Reply(send=[_schedule_prompt(found, context.runtime)])
            if when <= now:
                return Reply(send=[Outgoing(_("That time has passed. Please write a later one."))])
            found.scheduled_at = when
            found.step = "confirm"
            return Reply(
                send=await _confirm_screen(session, found, context.runtime, now, previews=False)
            )
        if len(typed) > ANNOUNCEMENT_LIMIT:
            return Reply(
                send=[
                    Outgoing(
                        _(
                            "That is too long: at most {limit} characters. "
                            "Please shorten it and send it again."
                        ).format(limit=ANNOUNCEMENT_LIMIT)
                    )
                ]
            )
        if not typed.strip():
            return Reply(send=[Outgoing(_("Please write the announcement as text."))])
        code = str(found.step).partition(":")[2] or current_language()
        found.text = {**(found.text or {}), code: html}
        found.language = found.language or code
        if found.audience is None:
            found.step = "audience"
            return Reply(send=[Outgoing(_("Saved.")), _audience_menu(found)])
        found.step = "confirm"
        screen = await _confirm_screen(session, found, context.runtime, now, previews=True)
        return Reply(send=[Outgoing(_("Saved.")), *screen])

    await answer(update, context, action)
