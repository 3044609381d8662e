"""Events: staff create them with ``/event``; subscribers answer yes, maybe or no.

``/event`` lists the upcoming events and offers an arena to create one for. Creating is a short
step-by-step in the private chat whose state is the draft :class:`models.events.Event` row:
title → start (and end) time → place → description (optional) → capacity (optional) → a preview
of the invitation and the count of subscribers → publish. Each typed answer is checked; a time
in the past or a capacity of zero is answered with what to write instead, and nothing changes.

Citizens get the invitation and an ``.ics`` file through the outbox and answer with one tap;
they can change their mind, join the waiting list of a full event, and get reminders if they
said yes. Staff see counts and a pseudonymous attendance list they can download as CSV.

What people get is rendered by :class:`EventTexts`, which the domain calls for each language.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta
from html import escape
from zoneinfo import ZoneInfo

from sqlmodel.ext.asyncio.session import AsyncSession
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, InputFile, Update

from handlers import callbacks as cb
from handlers.broadcast import parse_when
from handlers.common import Abort, Outgoing, Reply, Scene, answer, deliver, run
from handlers.context import BotContext, Runtime
from handlers.i18n import _, current_language, ngettext
from handlers.i18n import language as writing_in
from handlers.privacy import consented
from handlers.staff import authorized, refusal
from models import events
from models.arenas import Arena, list_arenas
from models.events import (
    DESCRIPTION_LIMIT,
    PLACE_LIMIT,
    TITLE_LIMIT,
    Counts,
    Event,
    EventProblem,
    EventState,
    RsvpAnswer,
    RsvpRefused,
)
from models.ics import MIME_TYPE, event_calendar
from models.participant import Participant
from models.pseudonym import pseudonymizer
from models.reminders import ReminderPolicy
from models.roles import Role, audit

Payload = dict[str, object]

#: A draft waits this long for the staff member's typed answer; then text is text again.
DRAFT_TEXT_WINDOW = timedelta(hours=1)
MENU_SIZE = 8
TEXT_STEPS = ("title", "time", "place", "description", "capacity")
_END_TIME = re.compile(r"^(?P<start>.*\d{1,2}[:.]\d{2})\s*[-\u2013]\s*(?P<end>\d{1,2}[:.]\d{2})$")
CHOICES = {
    "yes": RsvpAnswer.YES,
    "maybe": RsvpAnswer.MAYBE,
    "no": RsvpAnswer.NO,
    "wait": RsvpAnswer.WAITING,
}


def reminder_policy(runtime: Runtime) -> ReminderPolicy:
    """The reminder settings, as the domain takes them."""
    return ReminderPolicy(
        zone=runtime.timezone,
        event_hours=tuple(runtime.event_reminder_hours),
        finish_after=(
            timedelta(hours=runtime.finish_reminder_hours)
            if runtime.finish_reminder_hours > 0
            else None
        ),
        max_age=timedelta(hours=runtime.reminder_max_age_hours),
        quiet=runtime.quiet_hours,
        default_language=runtime.default_language,
    )


# ---------------------------------------------------------------------- showing time


def _weekday(number: int) -> str:
    return (
        _("Monday"),
        _("Tuesday"),
        _("Wednesday"),
        _("Thursday"),
        _("Friday"),
        _("Saturday"),
        _("Sunday"),
    )[number]


def when_text(event: Event, zone: str) -> str:
    """When the event is, in local time: ``Saturday 27.03.2027 at 18:00-20:00``."""
    assert event.starts_at is not None
    tz = ZoneInfo(zone)
    start, end = event.starts_at.astimezone(tz), event.end.astimezone(tz)
    if end.date() == start.date():
        span = f"{start:%H:%M}-{end:%H:%M}"
    else:
        span = f"{start:%H:%M} - {_weekday(end.weekday())} {end:%d.%m.%Y %H:%M}"
    return _("{weekday} {date} at {time}").format(
        weekday=_weekday(start.weekday()), date=f"{start:%d.%m.%Y}", time=span
    )


def short_when(moment: datetime, zone: str) -> str:
    """A compact local time for staff lists: ``27.03 18:00``."""
    return f"{moment.astimezone(ZoneInfo(zone)):%d.%m %H:%M}"


# ---------------------------------------------------------------------- what citizens see


def _rsvp_row(event: Event, current: RsvpAnswer | None) -> list[InlineKeyboardButton]:
    labels = [
        ("yes", RsvpAnswer.YES, _("✅ Yes")),
        ("maybe", RsvpAnswer.MAYBE, _("🤔 Maybe")),
        ("no", RsvpAnswer.NO, _("❌ No")),
    ]
    return [
        InlineKeyboardButton(
            ("• " if current == value else "") + label,
            callback_data=cb.RsvpChoice(event.id or 0, key).pack(),
        )
        for key, value, label in labels
    ]


def event_card(
    event: Event,
    arena: Arena | None,
    zone: str,
    *,
    current: RsvpAnswer | None = None,
    position: int | None = None,
    full: bool = False,
    heading: str | None = None,
) -> Outgoing:
    """An event as a person sees it, with their answer and the buttons to give or change it."""
    lines = [heading] if heading else []
    lines.append(f"📅 <b>{escape(event.title or '')}</b>")
    if arena is not None:
        lines.append("🏷 " + escape(arena.name_in(current_language())))
    lines.append("🕒 " + when_text(event, zone))
    lines.append("📍 " + escape(event.place or ""))
    if event.description:
        lines += ["", escape(event.description)]
    if event.capacity:
        lines += [
            "",
            ngettext("Room for {n} person.", "Room for {n} people.", event.capacity).format(
                n=event.capacity
            ),
        ]
    if event.state == EventState.CANCELLED:
        lines += ["", _("✖ This event is cancelled.")]
        return Outgoing("\n".join(lines))
    lines.append("")
    if full:
        lines.append(
            _("It is full. Join the waiting list, and we will tell you if a place comes free.")
        )
    elif current == RsvpAnswer.YES:
        lines.append(_("Your answer: yes, you are coming. We will remind you."))
    elif current == RsvpAnswer.MAYBE:
        lines.append(_("Your answer: maybe."))
    elif current == RsvpAnswer.NO:
        lines.append(_("Your answer: no."))
    elif current == RsvpAnswer.WAITING:
        lines.append(
            _(
                "You are number {n} on the waiting list. We will tell you if a place comes free."
            ).format(n=position or 1)
        )
    else:
        lines.append(_("Will you come? You can change your answer later."))
    rows = [_rsvp_row(event, current)]
    if full:
        rows.append(
            [
                InlineKeyboardButton(
                    _("⏳ Join the waiting list"),
                    callback_data=cb.RsvpChoice(event.id or 0, "wait").pack(),
                )
            ]
        )
    return Outgoing("\n".join(lines), InlineKeyboardMarkup(rows))


def _payload(message: Outgoing) -> Payload:
    payload: Payload = {"text": message.text, "parse_mode": "HTML"}
    if message.keyboard is not None:
        payload["reply_markup"] = message.keyboard.to_dict()
    return payload


def calendar_text(event: Event, arena: Arena | None, language: str) -> str:
    """The event's ``.ics`` file."""
    assert event.starts_at is not None
    description = event.description or ""
    if arena is not None:
        name = arena.name_in(language)
        description = f"{name}\n\n{description}".strip()
    return event_calendar(
        uid=f"event-{event.id}-{event.created_at:%Y%m%dT%H%M%S}@medvirk",
        stamp=event.published_at or event.updated_at,
        starts_at=event.starts_at,
        ends_at=event.end,
        summary=event.title or "",
        location=event.place,
        description=description or None,
        cancelled=event.state == EventState.CANCELLED,
    )


class EventTexts:
    """What people get about events, rendered for the domain (:class:`events.EventMessages`)."""

    def __init__(self, zone: str) -> None:
        """Show times in ``zone``."""
        self.zone = zone

    def invitation(self, event: Event, arena: Arena, language: str) -> Payload:
        """The invitation with the answer buttons."""
        with writing_in(language):
            heading = _("<b>{arena}</b> invites you:").format(
                arena=escape(arena.name_in(language))
            )
            card = event_card(event, None, self.zone, heading=heading)
            footer = _(
                "You get this because you joined {arena}. /arenas to leave, /stop for no messages."
            ).format(arena=escape(arena.name_in(language)))
            return _payload(Outgoing(f"{card.text}\n\n<i>{footer}</i>", card.keyboard))

    def calendar(self, event: Event, arena: Arena, language: str) -> Payload:
        """The ``.ics`` file that follows the invitation."""
        with writing_in(language):
            return {
                "document": {
                    "filename": f"medvirk-event-{event.id}.ics",
                    "content": calendar_text(event, arena, language),
                    "mime_type": MIME_TYPE,
                },
                "caption": _("Add it to your calendar: {title}").format(title=event.title),
            }

    def reminder(self, event: Event, language: str) -> Payload:
        """A reminder to someone who said yes."""
        with writing_in(language):
            heading = _("⏰ <b>Reminder</b>: you said you are coming.")
            return _payload(
                event_card(event, None, self.zone, current=RsvpAnswer.YES, heading=heading)
            )

    def promoted(self, event: Event, language: str) -> Payload:
        """A place came free for the first on the waiting list."""
        with writing_in(language):
            heading = _("🎉 A place came free: you are coming now.")
            return _payload(
                event_card(event, None, self.zone, current=RsvpAnswer.YES, heading=heading)
            )

    def cancelled(self, event: Event, language: str) -> Payload:
        """The event is cancelled."""
        with writing_in(language):
            text = _("✖ <b>Cancelled</b>: {title}, {when}. We are sorry.").format(
                title=escape(event.title or ""), when=when_text(event, self.zone)
            )
            return {"text": text, "parse_mode": "HTML"}


def texts(runtime: Runtime) -> EventTexts:
    """The renderer for this runtime's time zone."""
    return EventTexts(runtime.timezone)


async def citizen_card(
    session: AsyncSession, event: Event, participant: Participant, runtime: Runtime
) -> Outgoing:
    """An event with the person's current answer, for /arenas and an arena's link."""
    rsvp = await events.rsvp_of(session, event.id or 0, participant.id or 0)
    arena = await session.get(Arena, event.arena_id)
    position = await events.waiting_position(session, rsvp) if rsvp else None
    return event_card(
        event,
        arena,
        runtime.timezone,
        current=RsvpAnswer(rsvp.answer) if rsvp else None,
        position=position,
    )


# ---------------------------------------------------------------------- answering


def _data(update: Update) -> str | None:
    return update.callback_query.data if update.callback_query else None


async def on_rsvp(update: Update, context: BotContext) -> None:
    """Take a tap on yes, maybe, no or the waiting list; show the answer in place."""
    data = cb.RsvpChoice.unpack(_data(update))
    choice = CHOICES.get(data.answer)
    if choice is None:
        raise cb.InvalidCallback("unknown answer")
    runtime = context.runtime

    async def action(scene: Scene) -> Reply:
        session = scene.session
        participant = scene.participant
        now = scene.now
        person = await consented(session, participant)
        try:
            result = await events.answer(
                session,
                data.event_id,
                person,
                choice,
                now,
                texts(runtime),
                reminder_policy(runtime),
            )
        except RsvpRefused as refused:
            raise Abort(_refused(refused, runtime)) from refused
        event = result.event
        arena = await session.get(Arena, event.arena_id)
        card = event_card(
            event,
            arena,
            runtime.timezone,
            current=result.answer,
            position=result.position,
            full=result.full,
        )
        if result.full:
            notice = _("It is full. You can join the waiting list.")
        elif result.answer == RsvpAnswer.YES:
            notice = _("See you there!")
        elif result.answer == RsvpAnswer.WAITING:
            notice = _("You are on the waiting list.")
        else:
            notice = _("Thank you for telling us.")
        return Reply(edit=card, notice=notice)

    await answer(update, context, action)


def _refused(refused: RsvpRefused, runtime: Runtime) -> Reply:
    if refused.reason == "cancelled" and refused.event is not None:
        return Reply(
            notice=_("This event is cancelled."),
            edit=event_card(refused.event, None, runtime.timezone),
        )
    if refused.reason == "started":
        return Reply(notice=_("This event has already started, so answers are closed."))
    return Reply(notice=_("This event no longer exists."))


# ---------------------------------------------------------------------- staff: the menu


async def _own_draft(session: AsyncSession, update: Update, event_id: int) -> Event | None:
    """The presser's own draft with this id (not published, dropped or someone else's)."""
    draft = await session.get(Event, event_id)
    user = update.effective_user
    if (
        draft is None
        or user is None
        or draft.state != EventState.DRAFT
        or draft.created_by != user.id
    ):
        return None
    return draft


def _gone() -> Reply:
    return Reply(notice=_("This draft is no longer open. Send /event to start again."))


def _cancel_button(event_id: int) -> list[InlineKeyboardButton]:
    return [
        InlineKeyboardButton(
            _("✖ Cancel"), callback_data=cb.EventDraftOption(event_id, "drop").pack()
        )
    ]


async def _menu(session: AsyncSession, runtime: Runtime, now: datetime) -> Outgoing:
    lines = [_("<b>Events</b>")]
    rows: list[list[InlineKeyboardButton]] = []
    coming = await events.upcoming(session, now, limit=MENU_SIZE)
    if coming:
        for event in coming:
            count = await events.counts(session, event.id or 0)
            places = f"/{event.capacity}" if event.capacity else ""
            lines.append(
                f"• {short_when(event.starts_at or now, runtime.timezone)} "
                f"<b>{escape(event.title or '')}</b>: "
                + _("{yes}{places} coming").format(yes=count.yes, places=places)
            )
            rows.append(
                [
                    InlineKeyboardButton(
                        "⚙ " + (event.title or "")[:40],
                        callback_data=cb.EventAdmin(event.id or 0, "show").pack(),
                    )
                ]
            )
    else:
        lines.append(_("No upcoming events."))
    arenas = await list_arenas(session)
    if not arenas:
        lines.append("")
        lines.append(
            _(
                "There are no arenas yet, so there is nobody to invite. Import them with "
                "<code>medvirk arena import FILE</code> (see docs/arenas.md)."
            )
        )
        return Outgoing("\n".join(lines), InlineKeyboardMarkup(rows) if rows else None)
    lines += ["", _("Create an event for:")]
    for arena in arenas[:MENU_SIZE]:
        rows.append(
            [
                InlineKeyboardButton(
                    "+ " + arena.name_in(current_language()),
                    callback_data=cb.EventNew(arena.id or 0).pack(),
                )
            ]
        )
    return Outgoing("\n".join(lines), InlineKeyboardMarkup(rows))


async def event_command(update: Update, context: BotContext) -> None:
    """``/event``: the upcoming events, and the arenas to create one for."""

    async def action(scene: Scene) -> Reply:
        session = scene.session
        now = scene.now
        if not await authorized(session, update, context, Role.STAFF, "/event"):
            return refusal(update)
        return Reply(send=[await _menu(session, context.runtime, now)])

    await answer(update, context, action)


async def on_new(update: Update, context: BotContext) -> None:
    """Start an event draft for the arena; ask for the title."""
    data = cb.EventNew.unpack(_data(update))
    user = update.effective_user
    chat = update.effective_chat
    assert user is not None
    assert chat is not None

    async def action(scene: Scene) -> Reply:
        session = scene.session
        now = scene.now
        if not await authorized(session, update, context, Role.STAFF, "event.new"):
            return refusal(update)
        arena = await session.get(Arena, data.arena_id)
        if arena is None:
            return Reply(notice=_("That arena no longer exists."))
        draft = await events.new_draft(
            session, arena.id or 0, user.id, chat.id, current_language(), now
        )
        return Reply(send=[_prompt(draft, arena, context.runtime)])

    await answer(update, context, action)


def _prompt(draft: Event, arena: Arena | None, runtime: Runtime) -> Outgoing:
    """Ask for what the draft's step needs."""
    eid = draft.id or 0
    step = draft.step
    rows = [_cancel_button(eid)]
    if step == "title":
        text = _(
            "<b>New event</b> for {arena}.\nWrite its title (at most {n} characters)."
        ).format(arena=escape(arena.name_in(current_language())) if arena else "?", n=TITLE_LIMIT)
    elif step == "time":
        text = _(
            "When does it start? Write a date and time, for example {example} (time in {zone}). "
            "Add the end if you like: {example_end}."
        ).format(
            example="<code>28.03 18:00</code>",
            example_end="<code>28.03 18:00-20:00</code>",
            zone=escape(runtime.timezone),
        )
    elif step == "place":
        text = _("Where is it? Write the place (at most {n} characters).").format(n=PLACE_LIMIT)
    elif step == "description":
        text = _("Describe it in a few sentences (at most {n} characters), or press Skip.").format(
            n=DESCRIPTION_LIMIT
        )
        rows.insert(
            0,
            [
                InlineKeyboardButton(
                    _("Skip ▶"), callback_data=cb.EventDraftOption(eid, "skip").pack()
                )
            ],
        )
    else:
        text = _("How many people can come? Write a number, or press No limit.")
        rows.insert(
            0,
            [
                InlineKeyboardButton(
                    _("No limit"), callback_data=cb.EventDraftOption(eid, "nolimit").pack()
                )
            ],
        )
    return Outgoing(text, InlineKeyboardMarkup(rows))


async def _confirm(
    session: AsyncSession, draft: Event, runtime: Runtime, now: datetime
) -> list[Outgoing]:
    """The invitation as subscribers will get it, and the button that sends it."""
    arena = await session.get(Arena, draft.arena_id)
    assert arena is not None
    size = await events.count_invitees(session, arena.id or 0)
    preview = event_card(draft, arena, runtime.timezone)
    inert = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(b.text, callback_data=cb.PreviewOnly(0).pack())
                for b in preview.keyboard.inline_keyboard[0]
            ]
        ]
        if preview.keyboard
        else []
    )
    lines = [_("<b>Ready</b>")]
    if size:
        lines.append(
            ngettext(
                "{n} person subscribes to {arena}: they get this invitation and a calendar file.",
                "{n} people subscribe to {arena}: they get this invitation and a calendar file.",
                size,
            ).format(n=size, arena=escape(arena.name_in(current_language())))
        )
        send = ngettext(
            "✅ Send the invitation to {n} person", "✅ Send the invitation to {n} people", size
        ).format(n=size)
    else:
        lines.append(
            _(
                "Nobody subscribes to {arena} yet. You can still publish it: people who join "
                "later see it."
            ).format(arena=escape(arena.name_in(current_language())))
        )
        send = _("✅ Publish")
    rows = [
        [
            InlineKeyboardButton(
                send, callback_data=cb.EventDraftOption(draft.id or 0, "publish").pack()
            )
        ],
        _cancel_button(draft.id or 0),
    ]
    return [
        Outgoing(_("<b>Preview</b>:")),
        Outgoing(preview.text, inert),
        Outgoing("\n".join(lines), InlineKeyboardMarkup(rows)),
    ]


async def on_draft_option(update: Update, context: BotContext) -> None:
    """Act on a draft's button: skip the description, no limit, publish, drop."""
    data = cb.EventDraftOption.unpack(_data(update))
    if data.option not in ("skip", "nolimit", "publish", "drop"):
        raise cb.InvalidCallback("unknown option")
    actor = update.effective_user.id if update.effective_user else None
    runtime = context.runtime

    async def action(scene: Scene) -> Reply:
        session = scene.session
        now = scene.now
        if not await authorized(session, update, context, Role.STAFF, "event.draft"):
            return refusal(update)
        draft = await _own_draft(session, update, data.event_id)
        if draft is None:
            return _gone()
        draft.updated_at = now
        if data.option == "drop":
            await session.delete(draft)
            return Reply(edit=Outgoing(_("Cancelled. Nothing was sent.")))
        if data.option == "skip" and draft.step == "description":
            draft.description = None
            draft.step = "capacity"
            return Reply(edit=Outgoing(_("No description.")), send=[_prompt(draft, None, runtime)])
        if data.option == "nolimit" and draft.step == "capacity":
            draft.capacity = None
            draft.step = "confirm"
            return Reply(
                edit=Outgoing(_("No limit.")), send=await _confirm(session, draft, runtime, now)
            )
        if data.option != "publish" or draft.step != "confirm":
            return Reply(notice=_("That step is behind you."))
        try:
            invited = await events.publish(
                session, draft, now, texts(runtime), reminder_policy(runtime)
            )
        except EventProblem as problem:
            if problem.code != "past":
                raise Abort(Reply(notice=_problem_text(problem))) from problem
            draft.step = "time"
            return Reply(
                edit=Outgoing(_problem_text(problem)), send=[_prompt(draft, None, runtime)]
            )
        await audit(
            session,
            actor,
            "event.publish",
            f"event:{draft.id}",
            {"arena_id": draft.arena_id, "invited": invited},
            now=now,
        )
        done = ngettext(
            "✅ Published. The invitation is on its way to {n} person.",
            "✅ Published. The invitation is on its way to {n} people.",
            invited,
        ).format(n=invited)
        return Reply(edit=Outgoing(done), send=[await _detail(session, draft, runtime, now)])

    await answer(update, context, action)


def _problem_text(problem: EventProblem) -> str:
    return {
        "empty": _("Please write it as text."),
        "too_long": _("That is too long: at most {limit} characters. Please shorten it.").format(
            limit=problem.limit
        ),
        "past": _("That time has passed. Please write a later one."),
        "ends_first": _("The end must come after the start. Please write the time again."),
        "capacity": _(
            "The number of places must be at least 1. Write a number, or press No limit."
        ),
        "incomplete": _("The event needs a title, a time and a place."),
        "not_draft": _("This draft is no longer open. Send /event to start again."),
        "not_published": _("It is not in a state where that can be done."),
    }[problem.code]


def parse_event_time(
    text: str, now: datetime, zone: str
) -> tuple[datetime, datetime | None] | None:
    """A start (and maybe an end the same day) staff typed; None when it is not a time."""
    value = text.strip()
    end_text = None
    match = _END_TIME.match(value)
    if match is not None:
        value, end_text = match["start"].strip(), match["end"].replace(".", ":")
    starts_at = parse_when(value, now, zone)
    if starts_at is None:
        return None
    if end_text is None:
        return starts_at, None
    try:
        hour, minute = (int(part) for part in end_text.split(":"))
        # The same local day; the zone works out the offset of that wall-clock time.
        local_end = starts_at.astimezone(ZoneInfo(zone)).replace(hour=hour, minute=minute)
    except ValueError:
        return None
    return starts_at, local_end.astimezone(UTC)


async def take_text(
    session: AsyncSession, draft: Event, typed: str, runtime: Runtime, now: datetime
) -> Reply:
    """Fill the draft's step with what staff typed, or say what is wrong (nothing changes)."""
    draft.updated_at = now
    step = draft.step
    try:
        if step == "title":
            draft.title = events.check_text(typed, TITLE_LIMIT)
            draft.step = "time"
        elif step == "time":
            parsed = parse_event_time(typed, now, runtime.timezone)
            if parsed is None:
                return Reply(
                    send=[
                        Outgoing(_("I could not read that time.")),
                        _prompt(draft, None, runtime),
                    ]
                )
            events.check_times(parsed[0], parsed[1], now)
            draft.starts_at, draft.ends_at = parsed
            draft.step = "place"
        elif step == "place":
            draft.place = events.check_text(typed, PLACE_LIMIT)
            draft.step = "description"
        elif step == "description":
            draft.description = events.check_text(typed, DESCRIPTION_LIMIT)
            draft.step = "capacity"
        elif step == "capacity":
            number = typed.strip()
            # isdecimal, not isdigit: "²" is a digit that int() refuses; the length keeps it in
            # the column's range.
            if not number.lstrip("-").isdecimal() or len(number) > 9:
                raise EventProblem("capacity")
            capacity = int(number)
            events.check_capacity(capacity)
            draft.capacity = capacity
            draft.step = "confirm"
            return Reply(send=await _confirm(session, draft, runtime, now))
    except EventProblem as problem:
        # Rolled back: the draft stays as it was, still waiting for this step.
        raise Abort(
            Reply(send=[Outgoing(_problem_text(problem)), _prompt(draft, None, runtime)])
        ) from problem
    return Reply(send=[_prompt(draft, None, runtime)])


def waits_for_text(draft: Event) -> bool:
    """The draft's next step is a typed answer."""
    return draft.step in TEXT_STEPS


# ---------------------------------------------------------------------- staff: one event


async def _detail(
    session: AsyncSession, event: Event, runtime: Runtime, now: datetime
) -> Outgoing:
    arena = await session.get(Arena, event.arena_id)
    count = await events.counts(session, event.id or 0)
    lines = [
        f"📅 <b>{escape(event.title or '')}</b>",
        "🏷 " + (escape(arena.name_in(current_language())) if arena else "?"),
        "🕒 " + when_text(event, runtime.timezone),
        "📍 " + escape(event.place or ""),
        "",
        _counts_text(event, count),
    ]
    eid = event.id or 0
    rows = [
        [
            InlineKeyboardButton(
                _("⬇ Attendance list (CSV)"), callback_data=cb.EventAdmin(eid, "csv").pack()
            )
        ]
    ]
    if event.state == EventState.CANCELLED:
        lines.append(_("✖ This event is cancelled."))
    elif event.starts_at is not None and event.starts_at > now:
        rows.append(
            [
                InlineKeyboardButton(
                    _("✖ Cancel the event"), callback_data=cb.EventAdmin(eid, "cancel").pack()
                ),
                InlineKeyboardButton("🔄", callback_data=cb.EventAdmin(eid, "show").pack()),
            ]
        )
    rows.append(
        [InlineKeyboardButton(_("◀ All events"), callback_data=cb.EventAdmin(eid, "list").pack())]
    )
    return Outgoing("\n".join(lines), InlineKeyboardMarkup(rows))


def _counts_text(event: Event, count: Counts) -> str:
    places = (
        _("Yes: {yes} of {capacity} places").format(yes=count.yes, capacity=event.capacity)
        if event.capacity
        else _("Yes: {yes}").format(yes=count.yes)
    )
    parts = [
        _("Invited: {n}").format(n=event.invited),
        places,
        _("Maybe: {n}").format(n=count.maybe),
        _("No: {n}").format(n=count.no),
    ]
    if event.capacity:
        parts.append(_("Waiting list: {n}").format(n=count.waiting))
    return " · ".join(parts)


def _answer_name(answer: RsvpAnswer) -> str:
    return {
        RsvpAnswer.YES: _("yes"),
        RsvpAnswer.MAYBE: _("maybe"),
        RsvpAnswer.NO: _("no"),
        RsvpAnswer.WAITING: _("waiting list"),
    }[answer]


async def attendance_csv(session: AsyncSession, event: Event, zone: str) -> bytes:
    """The attendance list: one pseudonymous key per person, their answer and when."""
    key = await pseudonymizer(session)
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(
        [
            _("person"),
            _("answer"),
            _("answered at ({zone})").format(zone=zone),
            _("place on the waiting list"),
        ]
    )
    tz = ZoneInfo(zone)
    for row in await events.attendance(session, event.id or 0):
        writer.writerow(
            [
                key(row.participant_id),
                _answer_name(row.answer),
                f"{row.answered_at.astimezone(tz):%Y-%m-%d %H:%M}",
                row.position or "",
            ]
        )
    # A byte-order mark, so Excel reads the file as UTF-8 (æ, ø, å).
    return out.getvalue().encode("utf-8-sig")


async def on_admin(update: Update, context: BotContext) -> None:
    """A published event's staff view: counts, attendance CSV, cancel, back to the list."""
    data = cb.EventAdmin.unpack(_data(update))
    if data.action not in ("show", "csv", "cancel", "cancel!", "list"):
        raise cb.InvalidCallback("unknown action")
    actor = update.effective_user.id if update.effective_user else None
    chat_id = update.effective_chat.id if update.effective_chat else 0
    runtime = context.runtime
    document: dict[str, tuple[bytes, str]] = {}

    async def action(scene: Scene) -> Reply:
        session = scene.session
        now = scene.now
        if not await authorized(session, update, context, Role.STAFF, "event.admin"):
            return refusal(update)
        if data.action == "list":
            return Reply(edit=await _menu(session, runtime, now))
        event = await session.get(Event, data.event_id)
        if event is None or event.state == EventState.DRAFT:
            return Reply(notice=_("That event no longer exists."))
        if data.action == "csv":
            content = await attendance_csv(session, event, runtime.timezone)
            document["csv"] = (content, f"event-{event.id}-attendance.csv")
            await audit(session, actor, "event.attendance", f"event:{event.id}", now=now)
            return Reply(notice=_("Attendance list ready."))
        if data.action == "cancel":
            if event.state != EventState.PUBLISHED:
                return Reply(notice=_("It has already ended."))
            count = await events.counts(session, event.id or 0)
            told = count.yes + count.maybe + count.waiting
            keyboard = InlineKeyboardMarkup(
                [
                    [
                        InlineKeyboardButton(
                            _("Yes, cancel it"),
                            callback_data=cb.EventAdmin(event.id or 0, "cancel!").pack(),
                        ),
                        InlineKeyboardButton(
                            _("No, keep it"),
                            callback_data=cb.EventAdmin(event.id or 0, "show").pack(),
                        ),
                    ]
                ]
            )
            text = ngettext(
                "Cancel the event? {n} person who answered yes, maybe or waiting is told.",
                "Cancel the event? {n} people who answered yes, maybe or waiting are told.",
                told,
            ).format(n=told)
            return Reply(edit=Outgoing(text, keyboard))
        notice = None
        if data.action == "cancel!":
            try:
                told = await events.cancel(
                    session, event, now, texts(runtime), reminder_policy(runtime)
                )
            except EventProblem:
                return Reply(notice=_("It is not in a state where that can be done."))
            await audit(
                session, actor, "event.cancel", f"event:{event.id}", {"told": told}, now=now
            )
            notice = ngettext(
                "Cancelled. {n} person is told.", "Cancelled. {n} people are told.", told
            ).format(n=told)
        return Reply(edit=await _detail(session, event, runtime, now), notice=notice)

    reply = await run(update, context, action)
    await deliver(update, context, reply)
    if "csv" in document:
        content, name = document["csv"]
        await context.bot.send_document(
            chat_id,
            InputFile(content, filename=name),
            caption=_("Pseudonymous: each person is a key, the same in every export."),
        )
