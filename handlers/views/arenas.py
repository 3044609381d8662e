"""Arenas as a citizen sees them: the list, an arena's card, the offers after a consultation.

Every offer (to join an arena, to hear what came of a consultation) has its one-tap undo.
"""

from __future__ import annotations

from collections.abc import Callable
from html import escape

from telegram import InlineKeyboardButton

from handlers import callbacks as cb
from handlers.i18n import _, current_language
from handlers.views.consultation import title_of
from handlers.views.outgoing import Outgoing, button, keyboard, row
from handlers.views.words import end_sentence, mid_sentence, shorten
from models.arenas import Arena
from models.consultation import Consultation

BUTTON_LENGTH = 40


def _short(text: str, limit: int = BUTTON_LENGTH) -> str:
    return shorten(text, limit)


def name(arena: Arena) -> str:
    """The arena's name in the reader's language (plain text)."""
    return arena.name_in(current_language())


def _description(arena: Arena) -> str:
    if not arena.description:
        return ""
    code = current_language()
    return arena.description.get(code) or next(iter(arena.description.values()), "")


def _toggle(arena: Arena, joined: bool, where: str) -> InlineKeyboardButton:
    if joined:
        label = _("✖ Leave {arena}").format(arena=_short(mid_sentence(name(arena)), 30))
    else:
        label = _("🙋 Join {arena}").format(arena=_short(mid_sentence(name(arena)), 30))
    return button(label, cb.ArenaToggle(arena.id or 0, 0 if joined else 1, where))


def _followed_title(consultation: Consultation) -> str:
    title = consultation.title.get(current_language())
    return title or next(iter(consultation.title.values()), "")


def arenas_message(
    arenas: list[Arena], joined: set[int], followed: list[Consultation]
) -> Outgoing:
    """Every arena with a join or leave button, then the follow-ups the person asked for."""
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
        lines += ["", f"{'✅' if member else '▫️'} <b>{escape(name(arena))}</b>"]
        if _description(arena):
            lines.append(escape(_description(arena)))
        rows.append([_toggle(arena, member, "l")])
    if followed:
        lines += ["", _("<b>You will hear what came of</b>")]
    for consultation in followed:
        lines.append("• " + title_of(consultation))
        label = _("🔕 Stop: {title}").format(title=_short(_followed_title(consultation), 30))
        rows.append(row(label, cb.FollowUp(consultation.id or 0, 0, "l")))
    return Outgoing("\n".join(lines), keyboard(*rows) if rows else None)


def arena_card(arena: Arena, joined: bool) -> Outgoing:
    """One arena, as its link opens it, with the button to join or leave."""
    lines = [f"🏷 <b>{escape(name(arena))}</b>"]
    if _description(arena):
        lines.append(escape(_description(arena)))
    lines.append("")
    lines.append(
        _("You are a member: you get its invitations.")
        if joined
        else _("Join to get invitations to its meetings. You can leave any time.")
    )
    return Outgoing("\n".join(lines), keyboard([_toggle(arena, joined, "c")]))


def offer_message(
    arena: Arena, joined: bool, data: Callable[[int], cb.CallbackData] | None = None
) -> Outgoing:
    """The offer at the end of a consultation to join its arena (and its answered form).

    ``data`` makes the button's data from 1 (join) or 0 (leave); by default an arena toggle
    that shows this offer again.
    """
    if joined:
        text = _("You joined <b>{arena}</b>. You will get invitations to its meetings.")
    else:
        text = _(
            "Would you like to take part in <b>{arena}</b>? Members get invitations to its "
            "meetings. You can leave any time."
        )
    lines = [end_sentence(text.format(arena=escape(mid_sentence(name(arena)))))]
    if not joined and _description(arena):
        lines.append(escape(_description(arena)))
    toggle = _toggle(arena, joined, "o")
    if data is not None:
        toggle = button(toggle.text, data(0 if joined else 1))
    return Outgoing("\n\n".join(lines), keyboard([toggle]))


def membership_notice(arena: Arena, joined: bool) -> str:
    """The toast after joining or leaving."""
    if joined:
        return end_sentence(_("You joined {arena}.").format(arena=mid_sentence(name(arena))))
    return end_sentence(
        _("You left {arena}. You get no more invitations from it.").format(
            arena=mid_sentence(name(arena))
        )
    )


def coming_up() -> Outgoing:
    """The line above the cards of an arena's next events."""
    return Outgoing(_("<b>Coming up</b>:"))


def arena_gone() -> str:
    """A button of an arena that was removed."""
    return _("That arena no longer exists. See /arenas.")


def arena_not_found() -> Outgoing:
    """An arena's link that leads nowhere."""
    return Outgoing(
        _("I could not find that arena. It may have been removed, or the link is wrong.")
    )


# ---------------------------------------------------------------------- follow-ups


def followup_offer(
    consultation: Consultation,
    wanted: bool | None,
    data: Callable[[int], cb.CallbackData] | None = None,
) -> Outgoing:
    """The question whether to hear what came of it, or its answered form with an undo.

    ``data`` makes a button's data from 1 (yes) or 0 (no); by default a follow-up answer that
    shows this offer again.
    """
    cid = consultation.id or 0
    make = data or (lambda value: cb.FollowUp(cid, value, "o"))
    if wanted is None:
        text = _(
            "May we tell you what came of this? When the municipality has decided, we send "
            "you one message about <b>{title}</b>."
        )
        buttons = [
            button(_("✅ Yes, tell me"), make(1)),
            button(_("No thanks"), make(0)),
        ]
    elif wanted:
        text = _("Thank you! We will tell you what came of <b>{title}</b>.")
        buttons = [button(_("🔕 No, do not tell me"), make(0))]
    else:
        text = _("Okay, we will not send you news about <b>{title}</b>.")
        buttons = [button(_("🔔 Tell me after all"), make(1))]
    title = title_of(consultation)
    return Outgoing(end_sentence(text.format(title=mid_sentence(title))), keyboard(buttons))


def followup_notice(wanted: bool) -> str:
    """The toast after saying yes or no to hearing what came of a consultation."""
    if wanted:
        return _("We will tell you what came of it.")
    return _("Okay: no news about it will be sent to you.")


def consultation_gone() -> str:
    """A button of a consultation that was removed."""
    return _("That consultation no longer exists.")
