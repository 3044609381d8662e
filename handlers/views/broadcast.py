"""Broadcasts as people see them: what recipients get, and the staff member's screens.

:func:`recipient_message` renders a recipient's message for the preview and for the delivery
worker alike, so the preview cannot drift from what is sent. The progress message and the
report are rendered here for the worker, which edits and sends them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from html import escape, unescape

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from handlers import callbacks as cb
from handlers.context import Runtime
from handlers.i18n import LANGUAGES, _, current_language, language, ngettext
from handlers.views.languages import content_language, reading
from handlers.views.outgoing import Outgoing, button, inert, row, yes_or_no
from handlers.views.times import local_time, zone_name
from handlers.views.words import language_name, shorten
from models.base import localized
from models.consultation import Consultation
from models.outbox import (
    ACTIVE_STATES,
    ANNOUNCEMENT_LIMIT,
    Audience,
    AudienceKind,
    Broadcast,
    BroadcastState,
    Counts,
    QuietHours,
)

LABEL_LENGTH = 50
_TAGS = re.compile(r"<[^>]+>")

# The broadcast wizard's key in callback data (handlers/wizards/broadcast.py).
WIZARD_KEY = "b"


# ---------------------------------------------------------------------- what recipients get


def recipient_message(
    broadcast: Broadcast, consultation: Consultation | None, code: str
) -> Outgoing:
    """The message one recipient gets, in their language ``code``.

    A consultation's invitation (title, intro, a button to start) wholly in ``code`` when the
    consultation is in it, else in its first language; an announcement in ``code`` when staff
    wrote that version, else in the fallback they chose (at first the one written first).
    """
    if consultation is not None:
        with reading(sent_in(broadcast, consultation, code)):
            return _invitation(consultation)
    with language(code):
        texts = broadcast.text or {}
        text = texts.get(code) or texts.get(broadcast.language or "") or ""
        return Outgoing(text or next(iter(texts.values()), ""))


def sent_in(broadcast: Broadcast, consultation: Consultation | None, code: str) -> str:
    """The language a recipient who reads ``code`` gets the broadcast in."""
    if consultation is not None:
        return code if code in consultation.languages else consultation.languages[0]
    texts = broadcast.text or {}
    if code in texts:
        return code
    return broadcast.language if broadcast.language in texts else next(iter(texts), code)


def _invitation(consultation: Consultation) -> Outgoing:
    code, first = content_language(), consultation.languages[0]
    parts = [f"<b>{escape(localized(consultation.title, code, first))}</b>"]
    if consultation.intro:
        parts.append(escape(localized(consultation.intro, code, first)))
    parts.append(_("We would like to hear what you think. It takes a few minutes."))
    start = row(_("▶ Answer"), cb.OpenConsultation(consultation.id or 0))
    return Outgoing("\n\n".join(parts), InlineKeyboardMarkup([start]))


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
    plain = shorten(" ".join(plain.split()), LABEL_LENGTH)
    return escape(plain) or _("Announcement")


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
    buttons = []
    if broadcast.state == BroadcastState.RUNNING:
        buttons.append(button(_("⏸ Pause"), cb.BroadcastControl(bid, "pause")))
    elif broadcast.state == BroadcastState.PAUSED:
        buttons.append(button(_("▶ Resume"), cb.BroadcastControl(bid, "resume")))
    if broadcast.state in ACTIVE_STATES:
        buttons.append(button(_("✖ Cancel"), cb.BroadcastControl(bid, "cancel")))
        buttons.append(button("🔄", cb.BroadcastControl(bid, "show")))
        return InlineKeyboardMarkup([buttons])
    return None


def progress_message(
    broadcast: Broadcast,
    consultation: Consultation | None,
    counts: Counts,
    runtime: Runtime,
    now: datetime,
) -> Outgoing:
    """The staff member's view of a confirmed broadcast: counts, state, finish time, controls."""
    lines = [f"📣 <b>{label(broadcast, consultation)}</b>"]
    # Before all deliveries are written, those not yet written count as remaining.
    unwritten = 0
    if broadcast.queued_at is None and broadcast.audience_size:
        unwritten = max(broadcast.audience_size - counts.total, 0)
    remaining = counts.pending + unwritten
    if broadcast.state == BroadcastState.SCHEDULED:
        lines += _scheduled_lines(broadcast, runtime, now)
    elif broadcast.state in (BroadcastState.DONE, BroadcastState.CANCELLED):
        lines += _ended_lines(broadcast, counts)
    else:
        lines += _sending_lines(broadcast, counts, remaining, runtime, now)
    return Outgoing("\n".join(lines), controls(broadcast))


def _scheduled_lines(broadcast: Broadcast, runtime: Runtime, now: datetime) -> list[str]:
    when = broadcast.scheduled_at or now
    size = broadcast.audience_size or 0
    if when <= now:
        first = _("Starting in a moment.")
    else:
        first = _("Scheduled for {time}.").format(time=local_time(when, runtime.timezone, now))
    return [first, ngettext("To {n} person.", "To {n} people.", size).format(n=size)]


def _ended_lines(broadcast: Broadcast, counts: Counts) -> list[str]:
    total = counts.total
    return [
        _("✅ Done.") if broadcast.state == BroadcastState.DONE else _("✖ Cancelled."),
        ngettext(
            "Sent to {sent} of {total} person.", "Sent to {sent} of {total} people.", total
        ).format(sent=counts.sent, total=total),
        _counts_line(counts, remaining=None),
    ]


def _sending_lines(
    broadcast: Broadcast, counts: Counts, remaining: int, runtime: Runtime, now: datetime
) -> list[str]:
    zone, quiet = runtime.timezone, runtime.quiet_hours
    if broadcast.state == BroadcastState.PAUSED:
        lines = [_("⏸ Paused. Nothing is sent until you resume.")]
    elif quiet is not None and not broadcast.urgent and quiet.is_quiet(now):
        lines = [
            _("Quiet hours: sending waits until {time}.").format(
                time=local_time(quiet.ends(now), zone, now)
            )
        ]
    else:
        lines = [_("Sending…")]
    lines.append(_counts_line(counts, remaining=remaining))
    if broadcast.state == BroadcastState.RUNNING and remaining:
        finish = expected_finish(
            remaining, now=now, rate=runtime.broadcast_rate, quiet=quiet, urgent=broadcast.urgent
        )
        lines.append(
            _("Expected to finish around {time}.").format(time=local_time(finish, zone, now))
        )
    return lines


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
    broadcast: Broadcast,
    consultation: Consultation | None,
    counts: Counts,
    zone: str,
    sending: tuple[datetime, datetime] | None = None,
) -> Outgoing:
    """The report sent when a broadcast has finished or was cancelled.

    ``sending``: when the first and the last message went out. The time it took is theirs, not
    the broadcast's whole life (a night of quiet hours is no sending time), and the finish time
    is in the installation's zone.
    """
    done = broadcast.state == BroadcastState.DONE
    lines = [
        (_("📣 <b>Broadcast finished</b>") if done else _("📣 <b>Broadcast cancelled</b>"))
        + ": "
        + label(broadcast, consultation),
        ngettext(
            "{sent} of {total} person got it.", "{sent} of {total} people got it.", counts.total
        ).format(sent=counts.sent, total=counts.total),
    ]
    lines += _shortfalls(counts)
    if sending is not None:
        first, last = sending
        lines.append(_took(last - first))
        finished = broadcast.finished_at or last
        when = f"{local_time(finished, zone, finished)} ({zone_name(zone)})"
        lines.append(_("Finished at {time}.").format(time=when))
    return Outgoing("\n".join(lines))


def _took(duration: timedelta) -> str:
    """How long sending took, as people say it."""
    if duration < timedelta(minutes=1):
        return _("It took less than a minute.")
    minutes = round(duration.total_seconds() / 60)
    return ngettext("It took {n} minute.", "It took {n} minutes.", minutes).format(n=minutes)


def _shortfalls(counts: Counts) -> list[str]:
    """Who did not get a broadcast, and why."""
    shortfalls = [
        (
            counts.failed,
            ngettext(
                "{n} message failed after several tries.",
                "{n} messages failed after several tries.",
                counts.failed,
            ),
        ),
        (
            counts.unreachable,
            ngettext(
                "{n} person has blocked the bot and was not reached.",
                "{n} people have blocked the bot and were not reached.",
                counts.unreachable,
            ),
        ),
        (
            counts.cancelled,
            ngettext(
                "{n} person did not get it (cancelled or withdrew consent).",
                "{n} people did not get it (cancelled or withdrew consent).",
                counts.cancelled,
            ),
        ),
    ]
    return [text.format(n=n) for n, text in shortfalls if n]


def cancel_question(broadcast: Broadcast, left: int) -> Outgoing:
    """Ask before cancelling a broadcast under way."""
    bid = broadcast.id or 0
    text = ngettext(
        "Cancel the broadcast? {n} person has not got it yet; they will not.",
        "Cancel the broadcast? {n} people have not got it yet; they will not.",
        left,
    ).format(n=left)
    return yes_or_no(
        text,
        (_("Yes, stop the broadcast"), cb.BroadcastControl(bid, "cancel!")),
        (_("No, carry on"), cb.BroadcastControl(bid, "show")),
    )


# ---------------------------------------------------------------------- composing


def _wizard_row(
    draft: Broadcast, label_text: str, choice: str, arg: str = ""
) -> list[InlineKeyboardButton]:
    return row(label_text, cb.WizardButton(WIZARD_KEY, draft.id or 0, choice, arg))


def _drop_row(draft: Broadcast) -> list[InlineKeyboardButton]:
    return _wizard_row(draft, _("✖ Cancel"), "drop")


def state_name(state: str) -> str:
    """A broadcast's state, in the reader's language."""
    return {
        BroadcastState.SCHEDULED: _("scheduled"),
        BroadcastState.RUNNING: _("sending"),
        BroadcastState.PAUSED: _("paused"),
    }.get(BroadcastState(state), state)


def content_menu(
    draft: Broadcast,
    consultations: list[Consultation],
    active: list[tuple[Broadcast, Consultation | None]],
) -> Outgoing:
    """What to send: an open consultation or an announcement; and the broadcasts under way."""
    lines = [_("<b>New broadcast</b>"), _("What do you want to send?")]
    rows = [
        _wizard_row(draft, "📋 " + label(draft, c), "pick", str(c.id or 0)) for c in consultations
    ]
    rows.append(_wizard_row(draft, _("✏ Write an announcement"), "pick", "0"))
    if active:
        lines += ["", _("<b>Under way</b>")]
        for broadcast, consultation in active:
            state = state_name(broadcast.state)
            lines.append(f"• #{broadcast.id} {label(broadcast, consultation)} ({state})")
            rows.append(row(f"⚙ #{broadcast.id}", cb.BroadcastControl(broadcast.id or 0, "show")))
    rows.append(_drop_row(draft))
    return Outgoing("\n".join(lines), InlineKeyboardMarkup(rows))


def audience_menu(draft: Broadcast) -> Outgoing:
    """Who should get it: the kinds of audience."""
    unfinished = str(draft.consultation_id or "")
    rows = [
        _wizard_row(
            draft, _("👥 Everyone who agreed to take part"), "audience", AudienceKind.CONSENTED
        ),
        _wizard_row(draft, _("🏷 Members of an arena"), "audience", AudienceKind.ARENA),
        _wizard_row(
            draft,
            _("⏸ Started a consultation but did not finish"),
            "audience",
            f"{AudienceKind.UNFINISHED}={unfinished}",
        ),
        _wizard_row(draft, _("🔗 Came from a link source"), "audience", AudienceKind.SOURCE),
        _wizard_row(
            draft,
            _("🎯 Groups missing from a consultation, who did not answer it"),
            "audience",
            f"{AudienceKind.MISSING}={unfinished}",
        ),
        _drop_row(draft),
    ]
    return Outgoing(_("<b>Who should get it?</b>"), InlineKeyboardMarkup(rows))


def audience_choices(
    draft: Broadcast, kind: AudienceKind, choices: list[tuple[str, str]]
) -> Outgoing:
    """Which arena, consultation or link source: ``choices`` are (label, reference) pairs."""
    title = {
        AudienceKind.ARENA: _("<b>Which arena?</b>"),
        AudienceKind.UNFINISHED: _("<b>Which consultation?</b>"),
        AudienceKind.SOURCE: _("<b>Which link source?</b>"),
        AudienceKind.MISSING: _("<b>Which consultation?</b>"),
    }[kind]
    rows = [_wizard_row(draft, text, "audience", f"{kind}={ref}") for text, ref in choices]
    rows.append(_wizard_row(draft, _("◀ Back"), "audience", ""))
    return Outgoing(title, InlineKeyboardMarkup(rows))


def nobody_missing() -> str:
    """No group is under-represented in the consultation (or nothing to compare with)."""
    return _(
        "No group is missing from that consultation, or there are no background questions and "
        "population figures to tell. See /results."
    )


def no_choices(kind: AudienceKind) -> str:
    """Why there is nothing to pick from."""
    if kind == AudienceKind.ARENA:
        return _("There are no arenas yet.")
    if kind == AudienceKind.SOURCE:
        return _("Nobody has come from a link source yet.")
    return _("There are no consultations yet.")


def audience_text(audience: Audience, name: str) -> str:
    """The audience in words; ``name`` is the arena's or consultation's (escaped)."""
    if audience.kind == AudienceKind.CONSENTED:
        return _("everyone who agreed to take part")
    if audience.kind == AudienceKind.ARENA:
        return _("members of {arena}").format(arena=name)
    if audience.kind == AudienceKind.UNFINISHED:
        return _("people who started {title} but did not finish").format(title=name)
    if audience.kind == AudienceKind.MISSING:
        return _("people in groups missing from {what} who have not answered it").format(what=name)
    return _("people who came from the link source {source}").format(
        source=f"<code>{escape(audience.ref)}</code>"
    )


def text_prompt(draft: Broadcast, code: str) -> Outgoing:
    """Ask for the announcement in the language ``code``."""
    text = _(
        "Write the announcement in {language} as your next message. Bold, italics and links "
        "are kept. At most {limit} characters."
    ).format(language=language_name(code), limit=ANNOUNCEMENT_LIMIT)
    return Outgoing(text, InlineKeyboardMarkup([_drop_row(draft)]))


def schedule_prompt(draft: Broadcast, zone: str) -> Outgoing:
    """Ask when to send it."""
    text = _(
        "When should it be sent? Write a date and time, for example {example} ({zone})."
    ).format(example="<code>20.01 09:30</code>", zone=escape(zone_name(zone)))
    return Outgoing(
        text, InlineKeyboardMarkup([_wizard_row(draft, _("◀ Back"), "back"), _drop_row(draft)])
    )


def preview_messages(
    draft: Broadcast, consultation: Consultation | None, languages: dict[str, int]
) -> list[Outgoing]:
    """What recipients get in each language they read, with how many read it."""
    messages: list[Outgoing] = []
    for code, count in languages.items():
        heading = ngettext(
            "<b>Preview in {language}</b> ({n} person):",
            "<b>Preview in {language}</b> ({n} people):",
            count,
        ).format(language=language_name(code), n=count)
        shown = sent_in(draft, consultation, code)
        if shown != code:
            heading = fallback_line(consultation, code, shown, count)
        message = recipient_message(draft, consultation, code)
        messages.append(Outgoing(heading))
        messages.append(
            Outgoing(message.text, inert(message.keyboard, draft.consultation_id or 0))
        )
    return messages


def fallback_line(consultation: Consultation | None, missing: str, shown: str, count: int) -> str:
    """Who gets the broadcast in another language than theirs, and why."""
    if consultation is not None:
        text = ngettext(
            "<b>{n} person will get the invitation in {shown} because the consultation is not "
            "in {missing}:</b>",
            "<b>{n} people will get the invitation in {shown} because the consultation is not "
            "in {missing}:</b>",
            count,
        )
    else:
        text = ngettext(
            "<b>{n} person will get the {shown} text because there is no {missing} one:</b>",
            "<b>{n} people will get the {shown} text because there is no {missing} one:</b>",
            count,
        )
    return text.format(n=count, shown=language_name(shown), missing=language_name(missing))


@dataclass(frozen=True)
class Summary:
    """What the confirmation screen says about a draft."""

    draft: Broadcast
    consultation: Consultation | None
    audience: str  # in words, escaped
    size: int
    when: datetime | None  # None: now


def confirm_screen(summary: Summary, runtime: Runtime, now: datetime) -> Outgoing:
    """The summary of a draft ready to send, with its buttons."""
    draft, size, when = summary.draft, summary.size, summary.when
    lines = [
        _("<b>Ready to send</b>"),
        _("Content: {content}").format(content=label(draft, summary.consultation)),
        _("Audience: {audience}").format(audience=summary.audience),
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
        written = ", ".join(language_name(c) for c in draft.text)
        lines.append(_("Written in: {languages}").format(languages=written))
        if len(draft.text) > 1 and draft.language in draft.text:
            lines.append(
                _("Readers of other languages get: {language}").format(
                    language=language_name(draft.language)
                )
            )
    if not size:
        lines.append(_("Nobody is in this audience. Choose another."))
    return Outgoing("\n".join(lines), _confirm_keyboard(draft, size, when))


def _confirm_keyboard(draft: Broadcast, size: int, when: datetime | None) -> InlineKeyboardMarkup:
    rows = []
    if size:
        send = (
            ngettext("✅ Schedule for {n} person", "✅ Schedule for {n} people", size)
            if when
            else ngettext("✅ Send to {n} person", "✅ Send to {n} people", size)
        )
        rows.append(_wizard_row(draft, send.format(n=size), "send"))
    rows.append(
        _wizard_row(draft, _("▶ Send now instead"), "now")
        if when
        else _wizard_row(draft, _("🕒 Schedule for later"), "schedule")
    )
    urgent = _("🚨 Urgent: on") if draft.urgent else _("🚨 Urgent: off")
    rows.append(_wizard_row(draft, urgent, "urgent"))
    rows += _language_rows(draft)
    rows.append(_wizard_row(draft, _("👥 Change the audience"), "audience", ""))
    rows.append(_drop_row(draft))
    return InlineKeyboardMarkup(rows)


def _language_rows(draft: Broadcast) -> list[list[InlineKeyboardButton]]:
    """Which written text the others get, and a button to write each missing language.

    Three buttons a row: nine languages fit on a phone.
    """
    if not draft.text:
        return []
    wizard = draft.id or 0
    fallbacks = [
        button(
            _("↪ Others get {language}").format(language=language_name(code)),
            cb.WizardButton(WIZARD_KEY, wizard, "fallback", code),
        )
        for code in draft.text
        if code != draft.language and len(draft.text) > 1
    ]
    additions = [
        button("+ " + language_name(code), cb.WizardButton(WIZARD_KEY, wizard, "lang", code))
        for code in LANGUAGES
        if code not in draft.text
    ]
    return [*_in_threes(fallbacks), *_in_threes(additions)]


def _in_threes(buttons: list[InlineKeyboardButton]) -> list[list[InlineKeyboardButton]]:
    return [buttons[i : i + 3] for i in range(0, len(buttons), 3)]
