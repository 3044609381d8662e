"""Events as people see them: invitations, cards with the answer buttons, the staff screens.

:class:`EventTexts` renders what the domain sends through the outbox (invitations, calendar
files, reminders, promotions, cancellations) in each recipient's language.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from datetime import datetime
from html import escape
from zoneinfo import ZoneInfo

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from handlers import callbacks as cb
from handlers.i18n import _, current_language, ngettext
from handlers.i18n import language as writing_in
from handlers.views.outgoing import Outgoing, button, row, yes_or_no
from handlers.views.times import short_date_and_time, span_text, zone_name
from models.arenas import Arena
from models.events import (
    DESCRIPTION_LIMIT,
    PLACE_LIMIT,
    TITLE_LIMIT,
    Attendee,
    Counts,
    Event,
    EventProblem,
    EventState,
    RsvpAnswer,
)
from models.ics import MIME_TYPE, event_calendar

Payload = dict[str, object]

# The event wizard's key in callback data (handlers/wizards/event.py).
WIZARD_KEY = "e"


# ---------------------------------------------------------------------- showing time


def when_text(event: Event, zone: str) -> str:
    """When the event is, in local time: ``Saturday 27.03.2027 at 18:00-20:00``."""
    assert event.starts_at is not None
    return span_text(event.starts_at, event.end, zone)


def short_when(moment: datetime, zone: str) -> str:
    """A compact local time for staff lists: ``27.03 18:00``."""
    return short_date_and_time(moment, zone)


# ---------------------------------------------------------------------- what citizens see


def _rsvp_row(event: Event, current: RsvpAnswer | None) -> list[InlineKeyboardButton]:
    labels = [
        ("yes", RsvpAnswer.YES, _("✅ Yes")),
        ("maybe", RsvpAnswer.MAYBE, _("🤔 Maybe")),
        ("no", RsvpAnswer.NO, _("❌ No")),
    ]
    return [
        button(("• " if current == value else "") + label, cb.RsvpChoice(event.id or 0, key))
        for key, value, label in labels
    ]


def _answer_line(current: RsvpAnswer | None, position: int | None, *, full: bool) -> str:
    if full:
        return _("It is full. Join the waiting list, and we will tell you if a place comes free.")
    if current == RsvpAnswer.YES:
        return _("Your answer: yes, you are coming. We will remind you.")
    if current == RsvpAnswer.MAYBE:
        return _("Your answer: maybe.")
    if current == RsvpAnswer.NO:
        return _("Your answer: no.")
    if current == RsvpAnswer.WAITING:
        return _(
            "You are number {n} on the waiting list. We will tell you if a place comes free."
        ).format(n=position or 1)
    return _("Will you come? You can change your answer later.")


def _facts(event: Event, arena: Arena | None, zone: str) -> list[str]:
    """Title, arena, time and place, one per line."""
    lines = [f"📅 <b>{escape(event.title or '')}</b>"]
    if arena is not None:
        lines.append("🏷 " + escape(arena.name_in(current_language())))
    lines.append("🕒 " + when_text(event, zone))
    lines.append("📍 " + escape(event.place or ""))
    return lines


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
    lines += _facts(event, arena, zone)
    if event.description:
        lines += ["", escape(event.description)]
    if event.capacity:
        room = ngettext("Room for {n} person.", "Room for {n} people.", event.capacity)
        lines += ["", room.format(n=event.capacity)]
    if event.state == EventState.CANCELLED:
        lines += ["", _("✖ This event is cancelled.")]
        return Outgoing("\n".join(lines))
    lines += ["", _answer_line(current, position, full=full)]
    rows = [_rsvp_row(event, current)]
    if full:
        rows.append(row(_("⏳ Join the waiting list"), cb.RsvpChoice(event.id or 0, "wait")))
    return Outgoing("\n".join(lines), InlineKeyboardMarkup(rows))


def rsvp_notice(answer: RsvpAnswer | None, *, full: bool) -> str:
    """The toast after an answer."""
    if full:
        return _("It is full. You can join the waiting list.")
    if answer == RsvpAnswer.YES:
        return _("See you there!")
    if answer == RsvpAnswer.WAITING:
        return _("You are on the waiting list.")
    return _("Thank you for telling us.")


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


# ---------------------------------------------------------------------- staff: the list


def events_menu(
    coming: Sequence[tuple[Event, Counts]], arenas: Sequence[Arena], zone: str, now: datetime
) -> Outgoing:
    """The upcoming events with their counts, and the arenas to create one for."""
    lines = [_("<b>Events</b>")]
    rows: list[list[InlineKeyboardButton]] = []
    for event, count in coming:
        places = f"/{event.capacity}" if event.capacity else ""
        lines.append(
            f"• {short_when(event.starts_at or now, zone)} "
            f"<b>{escape(event.title or '')}</b>: "
            + _("{yes}{places} coming").format(yes=count.yes, places=places)
        )
        rows.append(row("⚙ " + (event.title or "")[:40], cb.EventAdmin(event.id or 0, "show")))
    if not coming:
        lines.append(_("No upcoming events."))
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
    for arena in arenas:
        start = cb.WizardStart(WIZARD_KEY, arena.id or 0, "")
        rows.append(row("+ " + arena.name_in(current_language()), start))
    return Outgoing("\n".join(lines), InlineKeyboardMarkup(rows))


# ---------------------------------------------------------------------- staff: one event


def event_detail(
    event: Event, arena: Arena | None, count: Counts, zone: str, now: datetime
) -> Outgoing:
    """A published event for staff: the facts, the counts and what can be done."""
    lines = [
        f"📅 <b>{escape(event.title or '')}</b>",
        "🏷 " + (escape(arena.name_in(current_language())) if arena else "?"),
        "🕒 " + when_text(event, zone),
        "📍 " + escape(event.place or ""),
        "",
        _counts_text(event, count),
    ]
    eid = event.id or 0
    rows = [row(_("⬇ Attendance list (CSV)"), cb.EventAdmin(eid, "csv"))]
    if event.state == EventState.CANCELLED:
        lines.append(_("✖ This event is cancelled."))
    elif event.starts_at is not None and event.starts_at > now:
        rows.append(
            [
                button(_("✖ Cancel the event"), cb.EventAdmin(eid, "cancel")),
                button("🔄", cb.EventAdmin(eid, "show")),
            ]
        )
    rows.append(row(_("◀ All events"), cb.EventAdmin(eid, "list")))
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


def cancel_question(event: Event, told: int) -> Outgoing:
    """Ask before cancelling an event."""
    eid = event.id or 0
    text = ngettext(
        "Cancel the event? {n} person who answered yes, maybe or waiting is told.",
        "Cancel the event? {n} people who answered yes, maybe or waiting are told.",
        told,
    ).format(n=told)
    return yes_or_no(
        text,
        (_("Yes, cancel it"), cb.EventAdmin(eid, "cancel!")),
        (_("No, keep it"), cb.EventAdmin(eid, "show")),
    )


def _answer_name(answer: RsvpAnswer) -> str:
    return {
        RsvpAnswer.YES: _("yes"),
        RsvpAnswer.MAYBE: _("maybe"),
        RsvpAnswer.NO: _("no"),
        RsvpAnswer.WAITING: _("waiting list"),
    }[answer]


def attendance_csv(attendees: Sequence[Attendee], key: Callable[[int], str], zone: str) -> bytes:
    """The attendance list: one pseudonymous key per person, their answer and when."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(
        [
            _("person"),
            _("answer"),
            _("answered at ({zone})").format(zone=zone_name(zone)),
            _("place on the waiting list"),
        ]
    )
    tz = ZoneInfo(zone)
    for attendee in attendees:
        writer.writerow(
            [
                key(attendee.participant_id),
                _answer_name(attendee.answer),
                f"{attendee.answered_at.astimezone(tz):%Y-%m-%d %H:%M}",
                attendee.position or "",
            ]
        )
    # A byte-order mark, so Excel reads the file as UTF-8 (æ, ø, å).
    return out.getvalue().encode("utf-8-sig")


# ---------------------------------------------------------------------- staff: the draft


def _wizard_row(event: Event, text: str, choice: str) -> list[InlineKeyboardButton]:
    return row(text, cb.WizardButton(WIZARD_KEY, event.id or 0, choice, ""))


def _cancel_row(event: Event) -> list[InlineKeyboardButton]:
    return _wizard_row(event, _("✖ Cancel"), "drop")


def title_prompt(draft: Event, arena: Arena | None) -> Outgoing:
    """Ask for the title."""
    text = _("<b>New event</b> for {arena}.\nWrite its title (at most {n} characters).").format(
        arena=escape(arena.name_in(current_language())) if arena else "?", n=TITLE_LIMIT
    )
    return Outgoing(text, InlineKeyboardMarkup([_cancel_row(draft)]))


def time_prompt(draft: Event, zone: str) -> Outgoing:
    """Ask when it starts (and ends)."""
    text = _(
        "When does it start? Write a date and time, for example {example} ({zone}). "
        "Add the end if you like: {example_end}."
    ).format(
        example="<code>28.03 18:00</code>",
        example_end="<code>28.03 18:00-20:00</code>",
        zone=escape(zone_name(zone)),
    )
    return Outgoing(text, InlineKeyboardMarkup([_cancel_row(draft)]))


def place_prompt(draft: Event) -> Outgoing:
    """Ask where it is."""
    text = _("Where is it? Write the place (at most {n} characters).").format(n=PLACE_LIMIT)
    return Outgoing(text, InlineKeyboardMarkup([_cancel_row(draft)]))


def description_prompt(draft: Event) -> Outgoing:
    """Ask for a description, which may be skipped."""
    text = _("Describe it in a few sentences (at most {n} characters), or press Skip.").format(
        n=DESCRIPTION_LIMIT
    )
    rows = [_wizard_row(draft, _("Skip ▶"), "skip"), _cancel_row(draft)]
    return Outgoing(text, InlineKeyboardMarkup(rows))


def capacity_prompt(draft: Event) -> Outgoing:
    """Ask how many can come, or no limit."""
    text = _("How many people can come? Write a number, or press No limit.")
    rows = [_wizard_row(draft, _("No limit"), "nolimit"), _cancel_row(draft)]
    return Outgoing(text, InlineKeyboardMarkup(rows))


def confirm_screen(draft: Event, arena: Arena, invitees: int, zone: str) -> list[Outgoing]:
    """The invitation as subscribers will get it, and the button that sends it."""
    preview = event_card(draft, arena, zone)
    inert = InlineKeyboardMarkup(
        [[button(b.text, cb.PreviewOnly(0)) for b in preview.keyboard.inline_keyboard[0]]]
        if preview.keyboard
        else []
    )
    name = escape(arena.name_in(current_language()))
    lines = [_("<b>Ready</b>")]
    if invitees:
        lines.append(
            ngettext(
                "{n} person subscribes to {arena}: they get this invitation and a calendar file.",
                "{n} people subscribe to {arena}: they get this invitation and a calendar file.",
                invitees,
            ).format(n=invitees, arena=name)
        )
        send = ngettext(
            "✅ Send the invitation to {n} person",
            "✅ Send the invitation to {n} people",
            invitees,
        ).format(n=invitees)
    else:
        lines.append(
            _(
                "Nobody subscribes to {arena} yet. You can still publish it: people who join "
                "later see it."
            ).format(arena=name)
        )
        send = _("✅ Publish")
    rows = [_wizard_row(draft, send, "publish"), _cancel_row(draft)]
    return [
        Outgoing(_("<b>Preview</b>:")),
        Outgoing(preview.text, inert),
        Outgoing("\n".join(lines), InlineKeyboardMarkup(rows)),
    ]


def published(invited: int) -> Outgoing:
    """The confirmation that replaces the publish button."""
    return Outgoing(
        ngettext(
            "✅ Published. The invitation is on its way to {n} person.",
            "✅ Published. The invitation is on its way to {n} people.",
            invited,
        ).format(n=invited)
    )


def problem_text(problem: EventProblem) -> str:
    """What is wrong with what staff entered, and what to do."""
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
