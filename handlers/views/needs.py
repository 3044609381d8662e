"""Needs as a coordinator sees them: /needs, one need with its counts, the wizard, the exports.

A coordinator sees counts, and of volunteers only what each chose to share after saying yes;
the "how did it go?" taps are counted, never tied to a name.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from html import escape
from zoneinfo import ZoneInfo

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from handlers import callbacks as cb
from handlers.i18n import LANGUAGE_NAMES, LANGUAGES, _, current_language, ngettext
from handlers.views.outgoing import Outgoing, button, inert, keyboard, row, yes_or_no
from handlers.views.times import short_date_and_time
from handlers.views.volunteer import centre_name, need_card, slot_name, tag_names, when_of
from models.centres import Centre, Tag, district_key
from models.needs import (
    DESCRIPTION_LIMIT,
    PLACES_LIMIT,
    TITLE_LIMIT,
    Answer,
    Contact,
    Need,
    NeedCounts,
    NeedProblem,
    NeedReport,
    NeedState,
)
from models.volunteers import SPOKEN, ChoiceKind, Slot

#: The need wizard's key in callback data (handlers/wizards/need.py).
WIZARD_KEY = "n"
BUTTON_LENGTH = 40


def _short(text: str, limit: int = BUTTON_LENGTH) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _filled(need: Need, count: NeedCounts) -> str:
    return _("{yes} of {places} filled").format(yes=count.yes, places=need.places or 0)


def _state_mark(need: Need) -> str:
    return {
        NeedState.CLOSED: " " + _("(sign-ups stopped)"),
        NeedState.CANCELLED: " " + _("(cancelled)"),
    }.get(NeedState(need.state), "")


def short_when(need: Need, zone: str) -> str:
    """A compact local time for lists: ``27.03 10:00``, or ``every Tue 18:00``."""
    assert need.starts_at is not None
    shown = short_date_and_time(need.starts_at, zone)
    return _("weekly from {date}").format(date=shown) if need.weekly else shown


# ---------------------------------------------------------------------- /needs


def no_centre() -> Outgoing:
    """A coordinator tied to no centre yet."""
    return Outgoing(
        _(
            "You are not tied to a volunteer centre yet. An administrator ties you to one with "
            "<code>medvirk roles grant YOUR_ID coordinator --centre SLUG</code>."
        )
    )


def needs_menu(
    centres: Sequence[Centre], listed: Sequence[tuple[Need, NeedCounts]], zone: str
) -> Outgoing:
    """The centres' needs with filled/needed, a button each, and "new" and the exports."""
    names = ", ".join(escape(centre_name(c)) for c in centres)
    lines = [_("<b>Needs</b> of {centres}").format(centres=names)]
    rows: list[list[InlineKeyboardButton]] = []
    for need, count in listed:
        waiting = ", " + _("{n} waiting").format(n=count.waiting) if count.waiting else ""
        lines.append(
            f"• {short_when(need, zone)} <b>{escape(need.title_in(current_language()))}</b>: "
            f"{_filled(need, count)}{waiting}{_state_mark(need)}"
        )
        label = "⚙ " + _short(need.title_in(current_language()))
        rows.append(row(label, cb.NeedAdmin(need.id or 0, "show")))
    if not listed:
        lines.append(_("No needs yet."))
    for centre in centres:
        label = _("+ New need for {centre}").format(centre=_short(centre_name(centre), 28))
        rows.append(row(label, cb.WizardStart(WIZARD_KEY, centre.id or 0, "")))
    rows.append(
        [
            button(_("⬇ Needs (CSV)"), cb.NeedAdmin(0, "needs")),
            button(_("⬇ Statistics (CSV)"), cb.NeedAdmin(0, "stats")),
        ]
    )
    return Outgoing("\n".join(lines), keyboard(*rows))


def _contact_line(contact: Contact) -> str:
    who = escape(contact.name or "?")
    if contact.username:
        who += f" (@{escape(contact.username)})"
    if contact.phone:
        who += f", {escape(contact.phone)}"
    if contact.answer == Answer.WAITING:
        who += " " + _("(waiting list)")
    return "• " + who


def _feedback_line(count: NeedCounts) -> str:
    tally = count.feedback
    return _("<b>How did it go?</b> 😊 {good} · 😐 {ok} · 😞 {bad}").format(
        good=tally.get("good", 0), ok=tally.get("ok", 0), bad=tally.get("bad", 0)
    )


def _counts_line(need: Need, count: NeedCounts) -> str:
    return " · ".join(
        [
            _("Invited: {n}").format(n=count.invited),
            _filled(need, count),
            _("Waiting: {n}").format(n=count.waiting),
            _("No: {n}").format(n=count.no),
            _("Withdrew: {n}").format(n=count.withdrawn),
        ]
    )


def _shared_lines(count: NeedCounts, contacts: Sequence[Contact]) -> list[str]:
    """Who shared their contact details, and how many came without sharing."""
    lines = [_("<b>Shared contact details</b>")]
    lines += [_contact_line(c) for c in contacts] or [_("Nobody has shared yet.")]
    hidden = count.yes + count.waiting - len(contacts)
    if hidden > 0:
        lines.append(
            ngettext(
                "{n} more person said yes without sharing: you see only that they come.",
                "{n} more people said yes without sharing: you see only that they come.",
                hidden,
            ).format(n=hidden)
        )
    return lines


def _detail_rows(need: Need) -> list[list[InlineKeyboardButton]]:
    nid = need.id or 0
    cancel = button(_("✖ Cancel the need"), cb.NeedAdmin(nid, "cancel"))
    rows = []
    if need.state == NeedState.OPEN:
        rows.append([button(_("✋ Stop sign-ups"), cb.NeedAdmin(nid, "close")), cancel])
    elif need.state == NeedState.CLOSED:
        rows.append([cancel])
    back = button(_("◀ All needs"), cb.NeedAdmin(nid, "list"))
    rows.append([back, button("🔄", cb.NeedAdmin(nid, "show"))])
    return rows


def need_detail(
    need: Need,
    centre: Centre | None,
    count: NeedCounts,
    contacts: Sequence[Contact],
    zone: str,
) -> Outgoing:
    """A published need for its coordinator: facts, counts, shared contacts, feedback."""
    code = current_language()
    lines = [
        f"🙋 <b>{escape(need.title_in(code))}</b>{_state_mark(need)}",
        "🏷 " + escape(centre_name(centre)),
        "🕒 " + when_of(need, zone),
        "📍 " + escape(need.district or ""),
        "🧰 " + escape(tag_names(need, centre, code)),
        "",
        _counts_line(need, count),
        "",
        *_shared_lines(count, contacts),
        "",
        _feedback_line(count),
    ]
    return Outgoing("\n".join(lines), keyboard(*_detail_rows(need)))


def close_question(need: Need) -> Outgoing:
    """Ask before stopping sign-ups."""
    nid = need.id or 0
    return yes_or_no(
        _(
            "Stop sign-ups? Nobody new can say yes; invitations not yet sent are not sent. "
            "Those who said yes still come."
        ),
        (_("Yes, stop"), cb.NeedAdmin(nid, "close!")),
        (_("No"), cb.NeedAdmin(nid, "show")),
    )


def cancel_question(need: Need, told: int) -> Outgoing:
    """Ask before cancelling a need."""
    nid = need.id or 0
    text = ngettext(
        "Cancel the need? {n} volunteer who said yes or waits is told.",
        "Cancel the need? {n} volunteers who said yes or wait are told.",
        told,
    ).format(n=told)
    return yes_or_no(
        text,
        (_("Yes, cancel it"), cb.NeedAdmin(nid, "cancel!")),
        (_("No, keep it"), cb.NeedAdmin(nid, "show")),
    )


def gone() -> str:
    """A button of a need that does not exist, or is not the coordinator's."""
    return _("That need no longer exists.")


def problem_text(problem: NeedProblem) -> str:
    """What is wrong with what the coordinator entered, and what to do."""
    return {
        "empty": _("Please write it as text."),
        "too_long": _("That is too long: at most {limit} characters. Please shorten it.").format(
            limit=problem.limit
        ),
        "past": _("That time has passed. Please write a later one."),
        "ends_first": _("The end must come after the start. Please write the time again."),
        "places": _("Write a number from 1 to {limit}.").format(limit=PLACES_LIMIT),
        "tags": _("Choose at least one tag of the centre."),
        "incomplete": _(
            "The need needs a title, at least one tag, a time and a number of people."
        ),
        "not_draft": _("This draft is no longer open. Send /needs to start again."),
        "not_open": _("It is not in a state where that can be done."),
    }[problem.code]


# ---------------------------------------------------------------------- the wizard


def _wizard_row(need: Need, text: str, choice: str, arg: str = "") -> list[InlineKeyboardButton]:
    return row(text, cb.WizardButton(WIZARD_KEY, need.id or 0, choice, arg))


def _cancel_row(need: Need) -> list[InlineKeyboardButton]:
    return _wizard_row(need, _("✖ Cancel"), "drop")


def _with_back(need: Need, *rows: list[InlineKeyboardButton]) -> InlineKeyboardMarkup:
    back = button(_("◀ Back"), cb.WizardButton(WIZARD_KEY, need.id or 0, "back", ""))
    cancel = button(_("✖ Cancel"), cb.WizardButton(WIZARD_KEY, need.id or 0, "drop", ""))
    return keyboard(*rows, [back, cancel])


def title_prompt(draft: Need, centre: Centre | None, code: str, *, first: bool) -> Outgoing:
    """Ask for the title in ``code`` (the first time: or a needs file)."""
    if first:
        text = _(
            "<b>New need</b> for {centre}.\nWrite its title in {language}, short and concrete "
            "(at most {n} characters), for example: Two drivers for the repair café.\n\n"
            "Or send a needs file (YAML) to create several at once; see docs/volunteering.md."
        ).format(centre=escape(centre_name(centre)), language=LANGUAGE_NAMES[code], n=TITLE_LIMIT)
        return Outgoing(text, keyboard(_cancel_row(draft)))
    text = _("Write the title in {language} (at most {n} characters).").format(
        language=LANGUAGE_NAMES[code], n=TITLE_LIMIT
    )
    return Outgoing(text, _with_back(draft))


def description_prompt(draft: Need, code: str) -> Outgoing:
    """Ask for a description in ``code``, which may be skipped."""
    text = _(
        "Describe it in {language} in a few sentences: what to do, what to bring "
        "(at most {n} characters), or press Skip."
    ).format(language=LANGUAGE_NAMES[code], n=DESCRIPTION_LIMIT)
    return Outgoing(text, _with_back(draft, _wizard_row(draft, _("Skip ▶"), "skip")))


def languages_prompt(draft: Need) -> Outgoing:
    """Offer the title and description in more languages; volunteers get theirs."""
    written = ", ".join(LANGUAGE_NAMES[c] for c in LANGUAGES if c in draft.title)
    text = _(
        "Written in: {languages}. Volunteers get it in their language when you add it, "
        "otherwise in {first}."
    ).format(languages=written, first=LANGUAGE_NAMES.get(draft.language, draft.language))
    rows = [
        _wizard_row(draft, _("+ {language}").format(language=LANGUAGE_NAMES[c]), "add", c)
        for c in LANGUAGES
        if c not in draft.title
    ]
    rows.append(_wizard_row(draft, _("Next ▶"), "next"))
    return Outgoing(text, _with_back(draft, *rows))


def tags_prompt(draft: Need, tags: Sequence[Tag]) -> Outgoing:
    """Tick the tags of the need: volunteers who chose one of them are asked."""
    code = current_language()
    text = _(
        "What kind of help is it? Tick one or more: volunteers who like to do one of them are "
        "asked."
    )
    buttons = [
        button(
            ("✅ " if tag.id in draft.tags else "▫️ ") + tag.name_in(code),
            cb.WizardButton(WIZARD_KEY, draft.id or 0, "tag", tag.id),
        )
        for tag in tags
    ]
    rows = [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
    rows.append(_wizard_row(draft, _("Next ▶"), "next"))
    return Outgoing(text, _with_back(draft, *rows))


def district_prompt(draft: Need, districts: Sequence[str]) -> Outgoing:
    """Choose the district: volunteers who help there are asked."""
    text = _("Where is it? Volunteers who help in that district are asked.")
    buttons = [
        button(
            ("✅ " if district == draft.district else "") + district,
            cb.WizardButton(WIZARD_KEY, draft.id or 0, "district", district_key(district)),
        )
        for district in districts
    ]
    rows = [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
    return Outgoing(text, _with_back(draft, *rows))


def time_prompt(draft: Need, zone: str) -> Outgoing:
    """Ask when: one date, or a weekly slot."""
    text = _(
        "When is it? Write a date and time, for example {example} (time in {zone}), or a "
        "weekly slot, for example {weekly}."
    ).format(
        example="<code>27.03 10:00-14:00</code>",
        weekly="<code>tirsdag 17:00-19:00</code>",
        zone=escape(zone),
    )
    return Outgoing(text, _with_back(draft))


def places_prompt(draft: Need) -> Outgoing:
    """Ask how many people are needed."""
    text = _("How many people do you need? Write a number from 1 to {limit}.").format(
        limit=PLACES_LIMIT
    )
    return Outgoing(text, _with_back(draft))


def language_prompt(draft: Need) -> Outgoing:
    """Optionally ask only volunteers who speak a language."""
    text = _(
        "Should the volunteers speak a certain language (for example for a language café)? "
        "Then only those who speak it are asked."
    )
    buttons = [
        button(name, cb.WizardButton(WIZARD_KEY, draft.id or 0, "language", code))
        for code, name in SPOKEN.items()
    ]
    rows = [
        row(_("No, any language"), cb.WizardButton(WIZARD_KEY, draft.id or 0, "language", "-"))
    ]
    rows += [buttons[i : i + 3] for i in range(0, len(buttons), 3)]
    return Outgoing(text, _with_back(draft, *rows))


def _matches_line(matches: int, cap: int) -> str:
    if not matches:
        return _(
            "No volunteer matches it now. You can still publish it: it is on your list, and "
            "you can look for help elsewhere."
        )
    return ngettext(
        "{n} volunteer matches: they get this invitation, best matches first. Nobody gets "
        "more than {cap} of your invitations a week.",
        "{n} volunteers match: they get this invitation, best matches first. Nobody gets "
        "more than {cap} of your invitations a week.",
        matches,
    ).format(n=matches, cap=cap)


def confirm_screen(
    draft: Need, centre: Centre, matches: int, cap: int, zone: str
) -> list[Outgoing]:
    """The invitation as volunteers will get it, who gets it, and the button that sends it."""
    preview = need_card(draft, centre, zone)
    send = (
        ngettext("✅ Send to {n} volunteer", "✅ Send to {n} volunteers", matches).format(
            n=matches
        )
        if matches
        else _("✅ Publish")
    )
    lines = [_("<b>Ready</b>"), _matches_line(matches, cap)]
    return [
        Outgoing(_("<b>Preview</b>:")),
        Outgoing(preview.text, inert(preview.keyboard, 0)),
        Outgoing("\n".join(lines), _with_back(draft, _wizard_row(draft, send, "publish"))),
    ]


def published(invited: int) -> Outgoing:
    """The confirmation that replaces the publish button."""
    return Outgoing(
        ngettext(
            "✅ Published. The invitation is on its way to {n} volunteer.",
            "✅ Published. The invitation is on its way to {n} volunteers.",
            invited,
        ).format(n=invited)
    )


def batch_screen(
    drafts: Sequence[tuple[Need, int]], centres: dict[int, Centre], cap: int, zone: str
) -> Outgoing:
    """The needs of an uploaded file, each with how many volunteers match, and "publish all"."""
    code = current_language()
    lines = [
        ngettext(
            "<b>{n} need</b> in the file:", "<b>{n} needs</b> in the file:", len(drafts)
        ).format(n=len(drafts))
    ]
    for need, matches in drafts:
        centre = escape(centre_name(centres.get(need.centre_id)))
        lines.append(
            f"• <b>{escape(need.title_in(code))}</b> ({centre}), {short_when(need, zone)}, "
            + ngettext("{n} person", "{n} people", need.places or 0).format(n=need.places or 0)
            + ": "
            + ngettext("{n} volunteer matches", "{n} volunteers match", matches).format(n=matches)
        )
    lines.append(_("Nobody gets more than {cap} of your invitations a week.").format(cap=cap))
    first = drafts[0][0]
    send = _("✅ Publish all")
    return Outgoing(
        "\n".join(lines), keyboard(_wizard_row(first, send, "publish"), _cancel_row(first))
    )


def batch_published(published_count: int, invited: int, refused: Sequence[str]) -> Outgoing:
    """What became of a file's needs."""
    lines = [
        ngettext(
            "✅ {n} need published; invitations are on their way to {invited} volunteers.",
            "✅ {n} needs published; invitations are on their way to {invited} volunteers.",
            published_count,
        ).format(n=published_count, invited=invited)
    ]
    lines += [_("Not published: {title}").format(title=escape(title)) for title in refused]
    return Outgoing("\n".join(lines))


def file_problems(problems: Sequence[str]) -> Outgoing:
    """A needs file was refused, with every problem."""
    shown = "\n".join(f"• <code>{escape(p)}</code>" for p in problems[:20])
    more = len(problems) - 20
    text = _("The file was refused; nothing was stored. Please fix:") + "\n" + shown
    if more > 0:
        text += "\n" + _("… and {n} more.").format(n=more)
    return Outgoing(text)


def not_a_needs_file() -> Outgoing:
    """A document that is not a YAML file, or could not be read."""
    return Outgoing(_("Please send a needs file ending in .yaml (at most 256 KB)."))


# ---------------------------------------------------------------------- exports


def _csv(rows: Sequence[Sequence[object]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerows(rows)
    # A byte-order mark, so Excel reads the file as UTF-8 (æ, ø, å).
    return out.getvalue().encode("utf-8-sig")


def _needs_header(zone: str) -> list[object]:
    return [
        _("centre"),
        _("need"),
        _("title"),
        _("tags"),
        _("district"),
        _("starts ({zone})").format(zone=zone),
        _("weekly"),
        _("people needed"),
        _("state"),
        _("invited"),
        _("yes"),
        _("waiting list"),
        _("no"),
        _("withdrew"),
        _("went well"),
        _("went okay"),
        _("went not so well"),
    ]


def _need_row(item: NeedReport, tz: ZoneInfo) -> list[object]:
    need, count, code = item.need, item.counts, current_language()
    assert need.starts_at is not None
    return [
        item.centre.slug,
        need.id,
        need.title_in(code),
        tag_names(need, item.centre, code),
        need.district or "",
        f"{need.starts_at.astimezone(tz):%Y-%m-%d %H:%M}",
        _("yes") if need.weekly else _("no"),
        need.places,
        need.state,
        count.invited,
        count.yes,
        count.waiting,
        count.no,
        count.withdrawn,
        count.feedback.get("good", 0),
        count.feedback.get("ok", 0),
        count.feedback.get("bad", 0),
    ]


def needs_csv(reports: Sequence[NeedReport], zone: str) -> bytes:
    """Every need with its counts: one row each, no person in it."""
    tz = ZoneInfo(zone)
    return _csv([_needs_header(zone), *(_need_row(item, tz) for item in reports)])


def stats_csv(
    total: int,
    per_choice: dict[ChoiceKind, dict[str, int]],
    tags: Sequence[Tag],
    reports: Sequence[NeedReport],
) -> bytes:
    """Anonymous statistics for the annual report: volunteers per tag, district, time and
    language (never crossed, so no line points to a person), and the needs per centre."""
    code = current_language()
    tag_name = {tag.id: tag.name_in(code) for tag in tags}
    kinds = {
        ChoiceKind.TAG: (_("tag"), lambda v: tag_name.get(v, v)),
        ChoiceKind.DISTRICT: (_("district"), lambda v: v),
        ChoiceKind.SLOT: (_("time"), slot_name),
        ChoiceKind.LANGUAGE: (_("language"), lambda v: SPOKEN.get(v, v)),
    }
    rows: list[list[object]] = [[_("what"), _("value"), _("volunteers")]]
    rows.append([_("volunteers"), _("all"), total])
    for kind, (label, name) in kinds.items():
        counted = per_choice.get(kind, {})
        order = [s.value for s in Slot] if kind == ChoiceKind.SLOT else sorted(counted)
        rows += [[label, name(value), counted[value]] for value in order if value in counted]
    rows.append([])
    rows.append([_("centre"), _("needs"), _("people needed"), _("said yes"), _("went well")])
    per_centre: dict[str, list[int]] = {}
    for item in reports:
        sums = per_centre.setdefault(centre_name(item.centre), [0, 0, 0, 0])
        sums[0] += 1
        sums[1] += item.need.places or 0
        sums[2] += item.counts.yes
        sums[3] += item.counts.feedback.get("good", 0)
    rows += [[name, *sums] for name, sums in sorted(per_centre.items())]
    return _csv(rows)
