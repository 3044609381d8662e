"""Free texts as moderators see them: the card about a text, its buttons, the queue.

What a moderator is shown of a text is built from :class:`models.moderation.ItemView` only:
the consultation's title, the question, the text with personal data replaced by labels,
markers, and the size of the queue. No id, name or username of the writer is ever at hand here.
"""

from __future__ import annotations

from html import escape

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from handlers import callbacks as cb
from handlers.i18n import _, current_language, ngettext
from handlers.views.outgoing import Outgoing, button, keyboard, row
from handlers.views.words import language_name
from models.masking import Kind, render
from models.moderation import NOTE_LIMIT, ItemView, Reason, Status

# Telegram shows at most 4096 characters; the question may take 1000 and the title 200.
TEXT_SHOWN = 2500

# The key of the wizard that asks a moderator for their own reason (handlers/wizards/reason.py).
REASON_WIZARD = "r"


def label(value: Kind | Reason) -> str:
    """What a kind of personal data, or a reject reason, is called in the reader's language."""
    if isinstance(value, Kind):
        return {
            Kind.NATIONAL_ID: _("national identity number"),
            Kind.D_NUMBER: _("D-number"),
            Kind.PHONE: _("phone number"),
            Kind.EMAIL: _("e-mail address"),
        }[value]
    return {
        Reason.PERSONAL_DATA: _("Personal data"),
        Reason.OFFENSIVE: _("Offensive"),
        Reason.SPAM: _("Spam"),
        Reason.OFF_TOPIC: _("Off topic"),
        Reason.OTHER: _("Another reason"),
    }[value]


def placeholder(kind: Kind) -> str:
    """What stands where personal data was, for moderators and in exports alike: [phone number]."""
    return f"[{label(kind)}]"


def decision_label(item: ItemView) -> str:
    """The decision on a text: "Approved", "Rejected: spam", "Flagged for staff"."""
    if item.status is Status.APPROVED:
        return "✅ " + _("Approved")
    if item.status is Status.FLAGGED:
        return "⚑ " + _("Flagged for staff")
    if item.status is Status.REJECTED:
        if item.reason is Reason.OTHER and item.note:
            reason = escape(item.note)
        else:
            reason = label(item.reason).lower() if item.reason else ""
        return "🚫 " + _("Rejected: {reason}").format(reason=reason)
    return _("Waiting for review")


def queue_line(queue: int) -> str:
    """How many texts wait, always shown."""
    return "📥 " + ngettext("{n} text waiting", "{n} texts waiting", queue).format(n=queue)


def shown_text(item: ItemView) -> str:
    """The text as moderators see it: personal data replaced by labels, escaped, shortened."""
    plain = render(item.parts, placeholder)
    if len(plain) > TEXT_SHOWN:
        plain = plain[:TEXT_SHOWN] + "… " + _("(shortened)")
    return escape(plain)


def _about(item: ItemView, heading: str) -> list[str]:
    """Heading, where the text was written, the text masked, and what was hidden."""
    reader = current_language()
    lines = [
        heading,
        f"<b>{escape(item.title(reader))}</b>",
        f"<i>{escape(item.question(reader))}</i>",
        f"<blockquote>{shown_text(item)}</blockquote>",
    ]
    if item.language is not None:
        # The text stays as written; the moderator learns its language to read or pass it on.
        written = language_name(item.language)
        lines.append("🌐 " + _("Written in: {language}").format(language=written))
    if item.personal_data:
        kinds = ", ".join(sorted(label(k) for k in item.personal_data))
        lines.append("⚠️ " + _("Personal data hidden: {kinds}").format(kinds=kinds))
    return lines


def card(item: ItemView, queue: int, heading: str) -> str:
    """The message about one text: heading, where it was written, the text, markers, queue."""
    lines = _about(item, heading)
    if item.abusive:
        lines.append("⚠️ " + _("May contain abusive language"))
    lines.append(queue_line(queue))
    return "\n".join(lines)


def _choice(label: str, item: ItemView, choice: str) -> InlineKeyboardButton:
    return button(label, cb.Moderate(item.id, item.version, choice))


def decide_keyboard(item: ItemView) -> InlineKeyboardMarkup:
    """Approve, reject (then a reason), flag for staff."""
    return keyboard(
        [
            _choice("✅ " + _("Approve"), item, "approve"),
            _choice("🚫 " + _("Reject…"), item, "reasons"),
        ],
        [_choice("⚑ " + _("Flag for staff"), item, "flag")],
    )


def reasons_keyboard(item: ItemView, *, in_group: bool) -> InlineKeyboardMarkup:
    """The reasons to reject, in a private review also one in the moderator's own words."""

    def reason(choice: Reason) -> InlineKeyboardButton:
        return _choice(label(choice), item, choice.value)

    rows = [
        [reason(Reason.PERSONAL_DATA), reason(Reason.OFFENSIVE)],
        [reason(Reason.SPAM), reason(Reason.OFF_TOPIC)],
    ]
    if not in_group:
        # Typed text is read in private chats only.
        own = cb.WizardStart(REASON_WIZARD, item.id, str(item.version))
        rows.append([button("✏ " + _("Another reason…"), own)])
    rows.append([_choice("◀ " + _("Back"), item, "back")])
    return keyboard(*rows)


def undo_keyboard(item: ItemView) -> InlineKeyboardMarkup:
    """A way to take the decision back (it works for the moderator who took it)."""
    return keyboard(row("↩ " + _("Undo"), cb.UndoDecision(item.id, item.version)))


def pending_heading(*, in_group: bool) -> str:
    """The first line of a text waiting for a decision."""
    return "📝 <b>" + (_("New text") if in_group else _("Text to review")) + "</b>"


def decided_heading(item: ItemView, by: str) -> str:
    """The first line of a decided text: the decision and who took it."""
    return f"<b>{decision_label(item)}</b> · {by}"


def pending_message(item: ItemView, queue: int, *, in_group: bool) -> Outgoing:
    """A text waiting for a decision, with its buttons."""
    return Outgoing(card(item, queue, pending_heading(in_group=in_group)), decide_keyboard(item))


def switched_message(item: ItemView, queue: int, *, reasons: bool, in_group: bool) -> Outgoing:
    """A text still waiting, with the reject reasons or the decisions again."""
    buttons = reasons_keyboard(item, in_group=in_group) if reasons else decide_keyboard(item)
    return Outgoing(card(item, queue, pending_heading(in_group=in_group)), buttons)


def decided_message(item: ItemView, queue: int, by: str, *, undo: bool) -> Outgoing:
    """A decided text, with the undo button when the reader may use it."""
    return Outgoing(
        card(item, queue, decided_heading(item, by)), undo_keyboard(item) if undo else None
    )


def who(item: ItemView, moderator: int, name: str, *, in_group: bool) -> str:
    """Who decided, as the readers of this chat should see it.

    ``name``: the deciding moderator's own first name, shown to the other moderators in the
    group; it is not stored anywhere.
    """
    if item.decided_by != moderator:
        return _("by another moderator")
    if not in_group:
        return _("by you")
    return _("by {name}").format(name=escape(name)) if name else _("by a moderator")


def by_a_moderator() -> str:
    """Who decided, on the group's message about a text decided in a private review."""
    return _("by a moderator")


def gone_message() -> Outgoing:
    """In place of a text that no longer exists."""
    return Outgoing("🗑 " + _("This text no longer exists: its writer deleted or changed it."))


def empty_queue(queue: int) -> Outgoing:
    """When nothing waits for this moderator (the rest may be with other moderators)."""
    if not queue:
        return Outgoing(_("Nothing is waiting for review. Thank you!") + "\n" + queue_line(0))
    return Outgoing(
        _(
            "The texts still waiting are being looked at by other moderators right now. "
            "Send /review again in a few minutes."
        )
        + "\n"
        + queue_line(queue)
    )


# ---------------------------------------------------------------------- toasts and notes


def only_moderators() -> str:
    """A button pressed in the group by someone who is no moderator."""
    return _("Only moderators can decide on texts.")


def text_gone() -> str:
    """The toast on a text that no longer exists."""
    return _("This text no longer exists.")


def changed_in_group() -> Outgoing:
    """In the group, in place of a text its writer changed (the new version is posted anew)."""
    return Outgoing("✏️ " + _("Its writer changed this text. The new version waits in the queue."))


def changed_notice(*, in_group: bool) -> str:
    """The toast on a text its writer changed."""
    if in_group:
        return _("The writer changed this text.")
    return _("The writer changed this text. Here is the new version.")


def decided_before(*, mine: bool) -> str:
    """The toast on a text decided already."""
    if mine:
        return _("You already decided on this text.")
    return _("Another moderator already decided on this text.")


def undone() -> str:
    """The toast after taking a decision back."""
    return _("Undone. The text is waiting for a decision again.")


def nothing_to_undo() -> str:
    """Undo on a text that waits for a decision."""
    return _("There is no decision to undo: the text is waiting for one.")


def not_yours_to_undo(*, mine: bool) -> str:
    """Undo by someone else than the decider, or on a decision that changed since."""
    if not mine:
        return _("Only the moderator who decided can undo it.")
    return _("This decision has changed since. Here it is as it is now.")


# ---------------------------------------------------------------------- the group


def group_usage() -> Outgoing:
    """/moderationgroup in a private chat: how to set the group up."""
    return Outgoing(
        _(
            "Add me to the moderators' group chat and send /moderationgroup "
            "there. New written answers will then be posted in that group."
        )
    )


def group_registered(waiting: int) -> Outgoing:
    """The group is now the moderation group; texts already waiting are in /review."""
    text = _(
        "This is now the moderation group. New written answers are posted here "
        "as they arrive; any moderator can decide with the buttons. Who wrote a "
        "text is never shown. Send /moderationgroup off to stop."
    )
    if waiting:
        text += "\n" + ngettext(
            "{n} text is already waiting: moderators can review it with /review in a "
            "private chat with me.",
            "{n} texts are already waiting: moderators can review them with /review in "
            "a private chat with me.",
            waiting,
        ).format(n=waiting)
    return Outgoing(text)


def group_unregistered(*, was_it: bool) -> Outgoing:
    """After /moderationgroup off."""
    if was_it:
        return Outgoing(_("This group no longer gets new texts. Moderators can use /review."))
    return Outgoing(_("This group is not the moderation group."))


def reason_prompt() -> Outgoing:
    """Ask a moderator for the reason in their own words."""
    return Outgoing(
        _(
            "Write the reason in a few words (at most {n} characters). Moderators and staff "
            "see it; the writer does not."
        ).format(n=NOTE_LIMIT)
    )


def reason_too_long() -> Outgoing:
    """A moderator's reason over the limit."""
    return Outgoing(_("That is too long: at most {n} characters.").format(n=NOTE_LIMIT))


# ---------------------------------------------------------------------- flags for staff


def _flag_card(item: ItemView, heading: str) -> str:
    return "\n".join(_about(item, heading))


def flag_message(item: ItemView) -> Outgoing:
    """A flagged text as every staff member gets it: masked, with what they can do."""
    heading = "⚑ <b>" + _("A moderator flagged this text for staff") + "</b>"
    note = _(
        "It is kept out of the results and exports. Deal with it as your routines say (a "
        "threat: call the police). Medvirk does not show who wrote it."
    )
    done = cb.FlagAction(item.id, item.version, "handled")
    approve = cb.FlagAction(item.id, item.version, "approve")
    buttons = keyboard(
        [button("✓ " + _("Dealt with"), done), button("✅ " + _("Approve after all"), approve)]
    )
    return Outgoing(_flag_card(item, heading) + "\n\n" + note, buttons)


def flag_payload(item: ItemView) -> dict[str, object]:
    """:func:`flag_message` as Bot API ``sendMessage`` fields, for the outbox."""
    message = flag_message(item)
    assert message.keyboard is not None
    return {
        "text": message.text,
        "parse_mode": "HTML",
        "reply_markup": message.keyboard.to_dict(),
    }


def flag_done_message(item: ItemView, *, mine: bool) -> Outgoing:
    """A flagged text after staff acted on it (or the moderator took the flag back)."""
    if item.status is Status.APPROVED:
        heading = "✅ <b>" + _("Approved after all") + "</b>"
    elif item.status is Status.FLAGGED and item.handled_by is not None:
        heading = "✓ <b>" + _("Dealt with") + "</b>"
    elif item.pending:
        heading = "↩ <b>" + _("The moderator took the flag back") + "</b>"
    else:
        heading = f"<b>{decision_label(item)}</b>"
    if item.handled_by is not None:
        heading += " · " + (_("by you") if mine else _("by another staff member"))
    return Outgoing(_flag_card(item, heading))


def flag_notice(item: ItemView, *, mine: bool) -> str:
    """The toast after acting on a flag, or why nothing was done."""
    if mine:
        return _("Done. The moderators' decision is updated.")
    if item.handled_by is not None:
        return _("Another staff member dealt with it already.")
    return _("This text has changed since; here it is as it is now.")


def flags_list(items: list[ItemView], total: int) -> Outgoing:
    """The heading above the flagged texts /manage shows, one message each."""
    if not total:
        return Outgoing(_("No flagged texts are waiting. Thank you!"))
    text = ngettext(
        "<b>{n} flagged text</b> waits for staff:",
        "<b>{n} flagged texts</b> wait for staff:",
        total,
    ).format(n=total)
    if total > len(items):
        rest = _("the oldest {shown} below; the rest follow when these are dealt with.")
        text += " " + rest.format(shown=len(items))
    return Outgoing(text)
