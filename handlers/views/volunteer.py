"""Volunteering as a resident sees it: the profile, invitations to needs, and what follows.

:class:`NeedTexts` renders what the domain sends through the outbox about needs (invitations,
reminders, the thank-you with "how did it go?", a place come free, a cancellation) in each
volunteer's language; the same card is what a volunteer's tap edits in place.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape
from zoneinfo import ZoneInfo

from telegram import InlineKeyboardButton

from handlers import callbacks as cb
from handlers.i18n import _, current_language, ngettext
from handlers.i18n import language as writing_in
from handlers.views.outgoing import Outgoing, button, keyboard, row, yes_or_no
from handlers.views.times import (
    date_text,
    short_date_and_time,
    span_text,
    time_text,
    weekday_name,
)
from models.centres import Centre, Tag, district_key
from models.needs import Answer, Feedback, Need, Signup
from models.volunteers import SPOKEN, ChoiceKind, Slot

Payload = dict[str, object]

#: The order of the profile's sections, as the first set-up walks through them.
SECTIONS = (ChoiceKind.TAG, ChoiceKind.DISTRICT, ChoiceKind.SLOT, ChoiceKind.LANGUAGE)


def _payload(message: Outgoing) -> Payload:
    payload: Payload = {"text": message.text, "parse_mode": "HTML"}
    if message.keyboard is not None:
        payload["reply_markup"] = message.keyboard.to_dict()
    return payload


def slot_name(slot: str) -> str:
    """A time slot as a volunteer reads it."""
    names: dict[str, str] = {
        Slot.DAYTIME: _("Weekdays, daytime"),
        Slot.EVENING: _("Weekday evenings"),
        Slot.WEEKEND: _("Weekends"),
    }
    return names.get(slot, slot)


def section_title(kind: ChoiceKind) -> str:
    """The heading of a section of the profile."""
    return {
        ChoiceKind.TAG: _("What you like to do"),
        ChoiceKind.DISTRICT: _("Where you can help"),
        ChoiceKind.SLOT: _("When you can help"),
        ChoiceKind.LANGUAGE: _("Languages you speak"),
    }[kind]


def centre_name(centre: Centre | None) -> str:
    """The centre's name in the reader's language (plain text)."""
    return centre.name_in(current_language()) if centre is not None else ""


# ---------------------------------------------------------------------- consent and profile


def volunteer_notice() -> str:
    """What the volunteer profile is for, in plain words, before the person agrees."""
    return _(
        "<b>Volunteer with the volunteer centres</b>\n"
        "The volunteer centres sometimes need a hand: a driver, a homework helper, someone "
        "for a language café. Tell us what you like to do, where and when, and we send you "
        "their requests that fit. You answer yes or no each time.\n\n"
        "<b>What we store for this</b>\n"
        "• What you like to do, the districts, the times and the languages you choose.\n"
        "• The requests you got and your answers.\n"
        "• Nothing else. The centres see only how many said yes. After you say yes, you "
        "choose whether they may see your first name and how to reach you.\n\n"
        "You can change your profile or end it at any time with /volunteer; /delete erases "
        "everything."
    )


def intro(centre: Centre | None) -> Outgoing:
    """The invitation to make a volunteer profile, with the purpose-specific consent."""
    lines = []
    if centre is not None:
        lines.append(
            _("👋 <b>{centre}</b> is looking for volunteers.").format(
                centre=escape(centre_name(centre))
            )
        )
    lines += [volunteer_notice(), _("Do you want a volunteer profile for this?")]
    cid = centre.id or 0 if centre is not None else 0
    return yes_or_no(
        "\n\n".join(lines),
        (_("✅ Yes, make my profile"), cb.VolunteerConsent(1, cid)),
        (_("No thanks"), cb.VolunteerConsent(0, cid)),
    )


def declined() -> Outgoing:
    """After "No thanks" to the volunteer profile."""
    return Outgoing(_("Okay, no profile. If you change your mind, send /volunteer."))


@dataclass(frozen=True)
class Commitment:
    """A need the volunteer comes to, or waits for a place in."""

    need: Need
    signup: Signup


def _choice_line(kind: ChoiceKind, values: Sequence[str]) -> str:
    shown = ", ".join(escape(v) for v in values) if values else _("nothing chosen yet")
    return f"<b>{section_title(kind)}</b>: {shown}"


def _choice_lines(chosen: dict[ChoiceKind, set[str]], tags: Sequence[Tag]) -> list[str]:
    """A line per section: what the person chose, by name."""
    code = current_language()
    names = {tag.id: tag.name_in(code) for tag in tags}
    slots = [slot_name(s) for s in Slot if s.value in chosen[ChoiceKind.SLOT]]
    spoken = [SPOKEN.get(c, c) for c in SPOKEN if c in chosen[ChoiceKind.LANGUAGE]]
    return [
        _choice_line(ChoiceKind.TAG, sorted(names.get(t, t) for t in chosen[ChoiceKind.TAG])),
        _choice_line(ChoiceKind.DISTRICT, sorted(chosen[ChoiceKind.DISTRICT])),
        _choice_line(ChoiceKind.SLOT, slots),
        _choice_line(ChoiceKind.LANGUAGE, spoken),
    ]


def _coming_lines(coming: Sequence[Commitment], zone: str) -> list[str]:
    """The needs the person has a place in or waits for."""
    if not coming:
        return []
    lines = ["", _("<b>You have said yes to</b>")]
    for item in coming:
        waiting = item.signup.answer == Answer.WAITING
        place = _("waiting list") if waiting else _("you have a place")
        when = short_time(item.need, item.signup, zone)
        lines.append(f"• {escape(item.need.title_in(current_language()))}, {when} ({place})")
    return lines


def _profile_rows() -> list[list[InlineKeyboardButton]]:
    def edit(kind: ChoiceKind, icon: str) -> InlineKeyboardButton:
        return button(f"{icon} {section_title(kind)}", cb.VolunteerEdit(kind.value, ""))

    return [
        [edit(ChoiceKind.TAG, "🧰"), edit(ChoiceKind.DISTRICT, "📍")],
        [edit(ChoiceKind.SLOT, "🕒"), edit(ChoiceKind.LANGUAGE, "💬")],
        row(_("✖ End volunteering"), cb.VolunteerEdit("end", "")),
    ]


def profile_card(
    chosen: dict[ChoiceKind, set[str]],
    tags: Sequence[Tag],
    coming: Sequence[Commitment],
    zone: str,
    *,
    complete: bool,
) -> Outgoing:
    """The person's profile with a button per section, their coming needs, and "end"."""
    lines = [_("🙋 <b>Your volunteer profile</b>"), "", *_choice_lines(chosen, tags), ""]
    if complete:
        lines.append(_("You get requests that fit this. Change it any time."))
    else:
        lines.append(
            _(
                "⚠ You get no requests until you choose at least one thing to do, "
                "one district and one time."
            )
        )
    lines += _coming_lines(coming, zone)
    return Outgoing("\n".join(lines), keyboard(*_profile_rows()))


def short_time(need: Need, signup: Signup | None, zone: str) -> str:
    """A compact local time: the volunteer's first time, or the need's."""
    moment = (signup.first_at if signup is not None else None) or need.starts_at
    assert moment is not None
    return short_date_and_time(moment, zone)


def section(kind: ChoiceKind, options: Sequence[tuple[str, str]], chosen: set[str]) -> Outgoing:
    """One section of the profile: a button per option, ticked when chosen, and "Next"."""
    hints = {
        ChoiceKind.TAG: _("Tap everything you would like to help with."),
        ChoiceKind.DISTRICT: _("Tap the districts where you can help."),
        ChoiceKind.SLOT: _("Tap the times that usually suit you."),
        ChoiceKind.LANGUAGE: _(
            "Tap the languages you speak. Some requests are for people who speak a "
            "certain language."
        ),
    }
    text = f"<b>{section_title(kind)}</b>\n{hints[kind]}"
    buttons = [
        button(("✅ " if value in chosen else "▫️ ") + label, cb.VolunteerEdit(kind.value, key))
        for value, label, key in _keyed(kind, options)
    ]
    rows = [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
    following = SECTIONS.index(kind) + 1
    target = SECTIONS[following].value if following < len(SECTIONS) else "card"
    label = _("Next ▶") if following < len(SECTIONS) else _("✔ Done")
    rows.append(row(label, cb.VolunteerEdit(target, "")))
    return Outgoing(text, keyboard(*rows))


def _keyed(kind: ChoiceKind, options: Sequence[tuple[str, str]]) -> list[tuple[str, str, str]]:
    """Each option with the key its button carries (a district's is a short hash)."""
    if kind == ChoiceKind.DISTRICT:
        return [(value, label, district_key(value)) for value, label in options]
    return [(value, label, value) for value, label in options]


def slot_options() -> list[tuple[str, str]]:
    """The time slots, in the week's order."""
    return [(slot.value, slot_name(slot)) for slot in Slot]


def language_options() -> list[tuple[str, str]]:
    """The spoken languages, each in its own name."""
    return list(SPOKEN.items())


def end_question(coming: int) -> Outgoing:
    """Ask before ending the profile."""
    text = _("End volunteering? Your profile is deleted and you get no more requests.")
    if coming:
        text += " " + ngettext(
            "You have said yes to {n} need: your place goes to someone else.",
            "You have said yes to {n} needs: your places go to someone else.",
            coming,
        ).format(n=coming)
    return yes_or_no(
        text,
        (_("Yes, end it"), cb.VolunteerEdit("end!", "")),
        (_("No, keep it"), cb.VolunteerEdit("card", "")),
    )


def ended() -> Outgoing:
    """The profile is gone."""
    return Outgoing(
        _(
            "Done: your volunteer profile is deleted and you get no more requests. "
            "Thank you for your help! Send /volunteer if you want to start again."
        )
    )


def centre_not_found() -> Outgoing:
    """A centre's link that leads nowhere."""
    return Outgoing(_("I could not find that volunteer centre. The link may be wrong or old."))


def no_profile() -> Outgoing:
    """A profile button of someone who has no profile (any more)."""
    return Outgoing(_("You have no volunteer profile. Send /volunteer to make one."))


# ---------------------------------------------------------------------- a need


def when_of(need: Need, zone: str, start: datetime | None = None) -> str:
    """When a need is: its one time, or its weekday and hours (and the volunteer's first time)."""
    assert need.starts_at is not None
    if not need.weekly:
        return span_text(need.starts_at, need.starts_at + need.length, zone)
    first = need.starts_at.astimezone(ZoneInfo(zone))
    end = need.starts_at + need.length
    every = _("Every {weekday} {start}-{end}").format(
        weekday=weekday_name(first.weekday()).lower(),
        start=time_text(need.starts_at, zone),
        end=time_text(end, zone),
    )
    shown = start or need.starts_at
    return every + ", " + _("first time {date}").format(date=date_text(shown, zone))


def tag_names(need: Need, centre: Centre | None, language: str) -> str:
    """The need's tags by their names in ``language``."""
    known = {
        str(t["id"]): Tag(str(t["id"]), dict(t["name"])) for t in (centre.tags if centre else [])
    }
    return ", ".join(known[t].name_in(language) if t in known else t for t in need.tags)


def _facts(
    need: Need,
    centre: Centre | None,
    zone: str,
    start: datetime | None,
    *,
    show_centre: bool = True,
) -> list[str]:
    code = current_language()
    lines = [f"<b>{escape(need.title_in(code))}</b>"]
    if centre is not None and show_centre:
        lines.append("🏷 " + escape(centre_name(centre)))
    lines.append("🕒 " + when_of(need, zone, start))
    lines.append("📍 " + escape(need.district or ""))
    lines.append("🧰 " + escape(tag_names(need, centre, code)))
    if need.wished_language:
        lines.append(
            "💬 "
            + _("Speaks {language}").format(
                language=escape(SPOKEN.get(need.wished_language, need.wished_language))
            )
        )
    description = need.description_in(code)
    if description:
        lines += ["", escape(description)]
    places = need.places or 0
    lines += [
        "",
        ngettext("They need {n} person.", "They need {n} people.", places).format(n=places),
    ]
    return lines


@dataclass(frozen=True)
class Standing:
    """Where a volunteer stands with a need: their answer, place on the list, what they share."""

    answer: Answer = Answer.INVITED
    position: int | None = None
    first_at: datetime | None = None
    shared: str | None = None  # "Kari (@kari)", "Kari, +4791234567"
    asked_phone: bool = False


def standing_of(signup: Signup, position: int | None) -> Standing:
    """A volunteer's standing from their sign-up."""
    shared = None
    if signup.contact_shared_at is not None:
        parts = [signup.contact_name or ""]
        if signup.contact_username:
            parts[0] += f" (@{signup.contact_username})"
        if signup.contact_phone:
            parts.append(signup.contact_phone)
        shared = ", ".join(p for p in parts if p)
    return Standing(
        Answer(signup.answer),
        position,
        signup.first_at,
        shared,
        asked_phone=signup.phone_asked_at is not None and signup.contact_shared_at is None,
    )


def _standing_line(standing: Standing) -> str:
    if standing.answer == Answer.YES:
        return _("✅ Your answer: yes, you have a place. We will remind you the day before.")
    if standing.answer == Answer.WAITING:
        return _(
            "⏳ It is full. You are number {n} on the waiting list: we tell you at once if a "
            "place comes free."
        ).format(n=standing.position or 1)
    if standing.answer == Answer.NO:
        return _("Your answer: no. Thank you for telling us.")
    return _("Can you help? You can change your answer until it starts.")


def _share_line(standing: Standing) -> str | None:
    if standing.answer not in (Answer.YES, Answer.WAITING):
        return None
    if standing.shared:
        return _("The centre sees: {contact}.").format(contact=escape(standing.shared))
    if standing.asked_phone:
        return _("Type your phone number as a message.")
    return _(
        "The centre sees only how many said yes. May they see your first name and how to "
        "reach you?"
    )


def _buttons(need: Need, standing: Standing) -> list[list[InlineKeyboardButton]]:
    nid = need.id or 0
    if standing.answer in (Answer.INVITED, Answer.NO):
        yes = button(_("✅ Yes, I can help"), cb.NeedAnswer(nid, "yes"))
        if standing.answer == Answer.NO:
            return [[yes]]
        return [[yes, button(_("No, not this time"), cb.NeedAnswer(nid, "no"))]]
    rows = []
    if standing.shared is None and not standing.asked_phone:
        rows.append(row(_("👤 Share my name and Telegram username"), cb.NeedShare(nid, "name")))
        rows.append(row(_("📞 Type a phone number"), cb.NeedShare(nid, "phone")))
    else:
        rows.append(row(_("🙈 Stop sharing"), cb.NeedShare(nid, "none")))
    leave = (
        _("✖ I cannot come after all")
        if standing.answer == Answer.YES
        else _("✖ Leave the waiting list")
    )
    rows.append(row(leave, cb.NeedAnswer(nid, "no")))
    return rows


def need_card(
    need: Need,
    centre: Centre | None,
    zone: str,
    standing: Standing = Standing(),
    *,
    heading: str | None = None,
    show_centre: bool = True,
) -> Outgoing:
    """A need as a volunteer sees it, with their answer and the buttons to give or change it.

    ``show_centre=False`` when the heading names the centre already.
    """
    lines = [heading, ""] if heading else []
    lines += _facts(need, centre, zone, standing.first_at, show_centre=show_centre)
    lines += ["", _standing_line(standing)]
    share = _share_line(standing)
    if share:
        lines.append(share)
    return Outgoing("\n".join(lines), keyboard(*_buttons(need, standing)))


def answer_notice(standing: Standing) -> str:
    """The toast after a yes or no."""
    if standing.answer == Answer.YES:
        return _("Thank you! You have a place.")
    if standing.answer == Answer.WAITING:
        return _("It is full: you are on the waiting list.")
    return _("Thank you for telling us.")


def share_notice(how: str) -> str:
    """The toast after choosing what to share."""
    if how == "name":
        return _("The centre can now see your first name and username.")
    if how == "phone":
        return _("Type your phone number.")
    return _("The centre sees nothing about you now.")


def refused(reason: str) -> str:
    """Why a volunteer's tap could not be taken."""
    return {
        "cancelled": _("This need is cancelled."),
        "closed": _("The centre has stopped taking sign-ups for this one."),
        "over": _("Its time has passed, so answers are closed."),
        "no_place": _("Say yes first; then you can choose what to share."),
        "not_yet": _("You can tell us how it went once it has happened."),
    }.get(reason, _("This request no longer exists."))


def phone_prompt() -> Outgoing:
    """Ask for the phone number."""
    return Outgoing(
        _(
            "Type the phone number the centre may call, for example 912 34 567. "
            "Changed your mind? Press 🙈 Stop sharing."
        )
    )


def phone_wrong() -> Outgoing:
    """Typed text that is not a phone number."""
    return Outgoing(
        _(
            "That does not look like a phone number. Type it with digits, for example "
            "912 34 567 or +47 912 34 567, or press 🙈 Stop sharing."
        )
    )


def phone_saved(need: Need, phone: str) -> Outgoing:
    """The number is stored."""
    return Outgoing(
        _("Thank you! The centre can now see your first name and {phone} for {title}.").format(
            phone=escape(phone), title=f"<b>{escape(need.title_in(current_language()))}</b>"
        )
    )


def feedback_card(need: Need, centre: Centre | None, chosen: str | None) -> Outgoing:
    """The thank-you with "how did it go?" (and the tap given, if any)."""
    code = current_language()
    lines = [
        _("💚 <b>Thank you</b> for helping {centre}: {title}!").format(
            centre=escape(centre_name(centre)), title=escape(need.title_in(code))
        ),
        "",
        _("How did it go?") if chosen is None else _("Thank you for telling us how it went."),
    ]
    nid = need.id or 0
    choices = [
        (Feedback.GOOD, _("😊 Good")),
        (Feedback.OK, _("😐 Okay")),
        (Feedback.BAD, _("😞 Not so good")),
    ]
    buttons = [
        button(("• " if chosen == value else "") + label, cb.NeedFeedback(nid, value))
        for value, label in choices
    ]
    return Outgoing("\n".join(lines), keyboard(buttons))


def feedback_notice() -> str:
    """The toast after "how did it go?"."""
    return _("Thank you! The centre sees it, not who said it.")


class NeedTexts:
    """What volunteers get about needs, rendered for the domain (:class:`needs.NeedMessages`)."""

    def __init__(self, zone: str, centres: dict[int, Centre] | None = None) -> None:
        """Show times in ``zone``; ``centres`` by id name the centre of each need."""
        self.zone = zone
        self.centres = centres or {}

    def _centre(self, need: Need) -> Centre | None:
        return self.centres.get(need.centre_id)

    def invitation(self, need: Need, centre: Centre, language: str) -> Payload:
        """The invitation with the yes and no buttons."""
        with writing_in(language):
            heading = _("🙋 <b>{centre}</b> asks for your help:").format(
                centre=escape(centre.name_in(language))
            )
            card = need_card(need, centre, self.zone, heading=heading, show_centre=False)
            footer = _(
                "You get this because you volunteer with Medvirk. /volunteer to change what "
                "you get, /stop for no messages."
            )
            return _payload(Outgoing(f"{card.text}\n\n<i>{footer}</i>", card.keyboard))

    def reminder(self, need: Need, start: datetime, language: str) -> Payload:
        """A reminder to a volunteer who said yes."""
        with writing_in(language):
            heading = _("⏰ <b>Reminder</b>: you said you would help.")
            centre = self._centre(need)
            lines = [heading, "", *_facts(need, centre, self.zone, start, show_centre=True)]
            leave = row(_("✖ I cannot come after all"), cb.NeedAnswer(need.id or 0, "no"))
            return _payload(Outgoing("\n".join(lines), keyboard(leave)))

    def thanks(self, need: Need, language: str) -> Payload:
        """The thank-you with "how did it go?"."""
        with writing_in(language):
            return _payload(feedback_card(need, self._centre(need), None))

    def promoted(self, need: Need, start: datetime, language: str) -> Payload:
        """A place came free for the first on the waiting list."""
        with writing_in(language):
            heading = _("🎉 A place came free: you have it now.")
            standing = Standing(Answer.YES, first_at=start)
            return _payload(
                need_card(need, self._centre(need), self.zone, standing, heading=heading)
            )

    def cancelled(self, need: Need, language: str) -> Payload:
        """The need is cancelled."""
        with writing_in(language):
            text = _("✖ <b>Cancelled</b>: {title}, {when}. The centre is sorry.").format(
                title=escape(need.title_in(language)), when=when_of(need, self.zone)
            )
            return {"text": text, "parse_mode": "HTML"}
