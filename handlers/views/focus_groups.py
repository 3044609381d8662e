"""Focus groups as people see them: the invitation to those drawn, and the staff screens.

:class:`FocusTexts` renders the invitation the domain sends through the outbox, in each
recipient's language. The staff screens show the quotas against the pool before the draw, and
the composition against the quotas as answers come in.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime
from html import escape

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from handlers import callbacks as cb
from handlers.i18n import _, current_language, ngettext
from handlers.i18n import language as writing_in
from handlers.views.outgoing import Outgoing, button, keyboard, row
from handlers.views.times import day_and_time, local_time
from models.arenas import Arena
from models.focus_groups import (
    PLACE_LIMIT,
    SEATS_LIMIT,
    TITLE_LIMIT,
    DrawRecordRow,
    FocusGroup,
    FocusProblem,
    MemberState,
    StratumCount,
)
from models.lottery import EVERYONE, stratum_bands
from models.profile import BackgroundQuestion, band_text

Payload = dict[str, object]

#: The focus-group wizard's key in callback data (handlers/wizards/focus_group.py).
WIZARD_KEY = "f"


def stratum_label(stratum: str, questions: list[BackgroundQuestion]) -> str:
    """A stratum in words: its bands' texts, "16-29 år · Sentrum" (escaped)."""
    if stratum == EVERYONE:
        return _("everyone")
    by_key = {q.key: q for q in questions}
    words = []
    for key, band in stratum_bands(stratum):
        question = by_key.get(key)
        option = question.by_key(band) if question else None
        words.append(band_text(option, current_language()) if option else band)
    return escape(" · ".join(words))


# ---------------------------------------------------------------------- what residents see


def _facts(group: FocusGroup, arena: Arena | None, zone: str) -> list[str]:
    assert group.starts_at is not None
    lines = [f"👥 <b>{escape(group.title or '')}</b>"]
    if arena is not None:
        lines.append("🏷 " + escape(arena.name_in(current_language())))
    lines += ["🕒 " + day_and_time(group.starts_at, zone), "📍 " + escape(group.place or "")]
    return lines


def invitation_card(
    group: FocusGroup, arena: Arena | None, zone: str, state: str | None = None
) -> Outgoing:
    """The invitation, with the person's answer once they gave one."""
    lines = [_("<b>You are invited to a focus group</b>"), *_facts(group, arena, zone), ""]
    gid = group.id or 0
    if state == MemberState.ACCEPTED:
        lines.append(_("✅ You are coming. Thank you, we look forward to seeing you!"))
        return Outgoing(
            "\n".join(lines),
            keyboard(row(_("I cannot come after all"), cb.FocusReply(gid, "no"))),
        )
    if state == MemberState.DECLINED:
        lines.append(_("You said no. Thank you for letting us know."))
        return Outgoing("\n".join(lines))
    lines.append(
        _(
            "We drew a few members of the arena by lot, so that the group is like the people "
            "who live here. You were drawn. Will you come?"
        )
    )
    rows = [
        [
            button(_("✅ Yes, I will come"), cb.FocusReply(gid, "yes")),
            button(_("No, thanks"), cb.FocusReply(gid, "no")),
        ],
        row(_("Never draw me again"), cb.FocusReply(gid, "never")),
    ]
    return Outgoing("\n".join(lines), keyboard(*rows))


class FocusTexts:
    """The invitation the domain writes to the outbox, in each recipient's language."""

    def __init__(self, zone: str) -> None:
        """Times are shown in ``zone``."""
        self.zone = zone

    def invitation(self, group: FocusGroup, arena: Arena, language: str) -> Payload:
        """The invitation with its answer buttons."""
        with writing_in(language):
            card = invitation_card(group, arena, self.zone)
        payload: Payload = {"text": card.text, "parse_mode": "HTML"}
        if card.keyboard is not None:
            payload["reply_markup"] = card.keyboard.to_dict()
        return payload


def reply_notice(state: str, *, never: bool) -> str:
    """The toast after an answer."""
    if never:
        return _("We will never draw you again. You can change this under /privacy.")
    if state == MemberState.ACCEPTED:
        return _("Thank you! See you there.")
    return _("Thank you for letting us know.")


def refused_notice(reason: str) -> str:
    """Why an answer to an invitation was not taken."""
    return {
        "started": _("This focus group has already met, so answers are closed."),
        "declined": _("You said no, so the seat went to someone else."),
        "not_drawn": _("This invitation is not for you."),
    }.get(reason, _("This focus group no longer exists."))


# ---------------------------------------------------------------------- the staff's menu


def menu(
    groups: list[tuple[FocusGroup, int]], arenas: list[Arena], zone: str, now: datetime
) -> Outgoing:
    """Drawn groups still to meet (with how many said yes), and the arenas to draw from."""
    lines = [_("<b>Focus groups</b>")]
    rows: list[list[InlineKeyboardButton]] = []
    for group, accepted in groups:
        assert group.starts_at is not None
        lines.append(
            _("• {title}, {time}: {accepted} of {seats} said yes").format(
                title=escape(group.title or ""),
                time=local_time(group.starts_at, zone, now),
                accepted=accepted,
                seats=group.seats or 0,
            )
        )
        rows.append(row(f"⚙ {group.title}"[:60], cb.FocusAdmin(group.id or 0, "show")))
    if not groups:
        lines.append(_("None drawn yet."))
    if arenas:
        lines += ["", _("Draw a new focus group from the members of an arena:")]
        rows += [
            row("+ " + a.name_in(current_language()), cb.WizardStart(WIZARD_KEY, a.id or 0, ""))
            for a in arenas
        ]
    else:
        lines += [
            "",
            _("There are no arenas yet: a focus group is drawn from an arena's members."),
        ]
    return Outgoing("\n".join(lines), keyboard(*rows) if rows else None)


# ---------------------------------------------------------------------- composing


def _wizard_row(
    group: FocusGroup, label: str, choice: str, arg: str = ""
) -> list[InlineKeyboardButton]:
    return row(label, cb.WizardButton(WIZARD_KEY, group.id or 0, choice, arg))


def _back_and_cancel(group: FocusGroup) -> list[InlineKeyboardButton]:
    return [
        button(_("◀ Back"), cb.WizardButton(WIZARD_KEY, group.id or 0, "back", "")),
        button(_("✖ Cancel"), cb.WizardButton(WIZARD_KEY, group.id or 0, "drop", "")),
    ]


def _prompt(group: FocusGroup, text: str) -> Outgoing:
    return Outgoing(text, InlineKeyboardMarkup([_back_and_cancel(group)]))


def title_prompt(group: FocusGroup, arena: Arena | None) -> Outgoing:
    """Ask for the title."""
    name = escape(arena.name_in(current_language())) if arena else ""
    return _prompt(
        group,
        _(
            "<b>New focus group</b> drawn from the members of {arena}.\n"
            "What is it about? Write a short title (at most {limit} characters)."
        ).format(arena=name, limit=TITLE_LIMIT),
    )


def time_prompt(group: FocusGroup, zone: str) -> Outgoing:
    """Ask when it meets."""
    return _prompt(
        group,
        _(
            "When does it meet? Write a date and time, for example {example} (time in {zone})."
        ).format(example="<code>20.03 18:00</code>", zone=escape(zone)),
    )


def place_prompt(group: FocusGroup) -> Outgoing:
    """Ask where it meets."""
    return _prompt(
        group, _("Where does it meet? (at most {limit} characters)").format(limit=PLACE_LIMIT)
    )


def seats_prompt(group: FocusGroup) -> Outgoing:
    """Ask how many seats."""
    return _prompt(
        group, _("How many seats? Write a number from 1 to {limit}.").format(limit=SEATS_LIMIT)
    )


def strata_prompt(group: FocusGroup, questions: list[BackgroundQuestion]) -> Outgoing:
    """Which background questions the seats are shared by (toggles), then go on."""
    lines = [
        _("<b>Share the seats by</b>"),
        _(
            "The seats are shared like the population, and each share is drawn by lot among the "
            'members who gave those answers. Members who chose "prefer not to say" for a '
            "question you pick cannot be drawn."
        ),
    ]
    if not questions:
        lines.append(_("There are no background questions, so everyone is drawn alike."))
    rows = [
        _wizard_row(
            group,
            ("☑ " if q.key in group.strata else "☐ ") + q.label_in(current_language()),
            "dim",
            q.key,
        )
        for q in questions
    ]
    label = _("Continue") if group.strata else _("Continue without sharing")
    rows.append(_wizard_row(group, label + " ▶", "next"))
    rows.append(_back_and_cancel(group))
    return Outgoing("\n".join(lines), InlineKeyboardMarkup(rows))


def _quota_lines(
    group: FocusGroup, pool: dict[str, int], questions: list[BackgroundQuestion]
) -> list[str]:
    lines = []
    for stratum, seats in (group.quotas or {}).items():
        available = pool.get(stratum, 0)
        warning = " ⚠" if available < seats else ""
        lines.append(
            _("• {stratum}: {seats} (can be drawn: {pool}){warning}").format(
                stratum=stratum_label(stratum, questions),
                seats=seats,
                pool=available,
                warning=warning,
            )
        )
    return lines


def quotas_prompt(
    group: FocusGroup, pool: dict[str, int], questions: list[BackgroundQuestion]
) -> Outgoing:
    """The seats per stratum (like the population), the pool of each, and how to change them."""
    lines = [
        _("<b>Seats per group</b>"),
        *_quota_lines(group, pool, questions),
        "",
        _(
            "To change some, write one per line: the answers, then the seats, e.g. {example}. "
            "⚠ means fewer members can be drawn than there are seats."
        ).format(example=f"<code>{escape(_example(group))}</code>"),
    ]
    rows = [_wizard_row(group, _("✅ Use these"), "ok"), _back_and_cancel(group)]
    return Outgoing("\n".join(lines), InlineKeyboardMarkup(rows))


def _example(group: FocusGroup) -> str:
    """A line that sets the first group's seats: its bands' ids and a number."""
    first = next(iter(group.quotas or {}), EVERYONE)
    bands = [band for _key, band in stratum_bands(first)] or ["*"]
    return " ".join([*bands, "2"])


def quota_problems(lines: list[str]) -> Outgoing:
    """Typed quota lines that name no group."""
    return Outgoing(
        _("I could not read these lines: {lines}. Write the answers' ids, then the seats.").format(
            lines=escape("; ".join(lines))
        )
    )


def confirm_screen(
    group: FocusGroup,
    arena: Arena | None,
    pool_size: int,
    questions: list[BackgroundQuestion],
    zone: str,
) -> Outgoing:
    """Everything about the group before the draw, and the button that draws."""
    assert group.starts_at is not None
    shared = ", ".join(
        q.label_in(current_language()) for q in questions if q.key in group.strata
    ) or _("nothing (everyone alike)")
    lines = [
        _("<b>Ready to draw</b>"),
        *_facts(group, arena, zone),
        ngettext("{n} seat", "{n} seats", group.seats or 0).format(n=group.seats or 0),
        _("Shared by: {questions}").format(questions=escape(shared)),
        ngettext("{n} member can be drawn.", "{n} members can be drawn.", pool_size).format(
            n=pool_size
        ),
        _(
            "Drawing picks a random number (the seed), draws each group's seats by lot and "
            "invites those drawn. Anyone who says no is replaced from the same group."
        ),
    ]
    rows = [_wizard_row(group, _("🎲 Draw and invite"), "draw"), _back_and_cancel(group)]
    return Outgoing("\n".join(lines), InlineKeyboardMarkup(rows))


def problem_text(problem: FocusProblem) -> str:
    """What is wrong with what staff typed, and what to write instead."""
    return {
        "empty": _("Please write some text."),
        "too_long": _("That is too long: at most {limit} characters.").format(limit=problem.limit),
        "past": _("That time has passed. Please write a later one."),
        "seats": _("Write a number from 1 to {limit}.").format(limit=problem.limit),
        "quotas": _("No group has a seat. Give at least one group a seat."),
        "incomplete": _("Something is missing. Go back and fill it in."),
        "not_draft": _("This draft is no longer open. Send /focusgroup to start again."),
    }.get(problem.code, _("That does not work."))


# ---------------------------------------------------------------------- after the draw


def composition(
    group: FocusGroup,
    arena: Arena | None,
    counts: list[StratumCount],
    questions: list[BackgroundQuestion],
    zone: str,
) -> Outgoing:
    """The group against its quotas: who said yes, who is invited, who said no, per group."""
    accepted = sum(c.accepted for c in counts)
    invited = sum(c.invited for c in counts)
    lines = [
        *_facts(group, arena, zone),
        _("Seed: <code>{seed}</code> (see docs/focus-groups.md to check the draw)").format(
            seed=escape(group.seed or "")
        ),
        _("{accepted} of {seats} seats taken, {invited} waiting for an answer.").format(
            accepted=accepted, seats=group.seats or 0, invited=invited
        ),
        "",
    ]
    lines += [_stratum_line(count, questions) for count in counts]
    gid = group.id or 0
    return Outgoing(
        "\n".join(lines),
        keyboard(
            [
                button("🔄", cb.FocusAdmin(gid, "show")),
                button(_("⬇ Draw record"), cb.FocusAdmin(gid, "csv")),
            ],
            row(_("◀ All focus groups"), cb.FocusAdmin(gid, "list")),
        ),
    )


def _stratum_line(count: StratumCount, questions: list[BackgroundQuestion]) -> str:
    """One stratum against its quota; ⚠ when seats are open and nobody is left to draw."""
    line = _("• {stratum}: {accepted}/{quota} yes, {invited} invited, {declined} no").format(
        stratum=stratum_label(count.stratum, questions),
        accepted=count.accepted,
        quota=count.quota,
        invited=count.invited,
        declined=count.declined,
    )
    return line + (" ⚠ " + _("nobody left to draw") if count.open_seats else "")


def drawn_notice(invited: int) -> str:
    """The toast after the draw."""
    return ngettext("Drawn: {n} person invited.", "Drawn: {n} people invited.", invited).format(
        n=invited
    )


def record_csv(rows: list[DrawRecordRow]) -> bytes:
    """The draw record: stratum, lottery key, rank and state of everyone drawn or in the pool."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(["stratum", "lottery_key", "rank", "state"])
    for r in rows:
        writer.writerow([r.stratum, r.key, r.rank, r.state])
    return buffer.getvalue().encode("utf-8-sig")


def record_ready() -> str:
    """The toast when the draw record follows."""
    return _("Draw record ready.")


def record_caption(seed: str) -> str:
    """The line under the draw record."""
    return _(
        'Seed {seed}. The rank is SHA-256 of "seed:key"; in each group the lowest ranks are '
        "drawn (docs/focus-groups.md)."
    ).format(seed=seed)
