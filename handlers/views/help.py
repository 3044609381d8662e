"""What the bot says about itself: what a citizen can do, and answers to what it cannot take."""

from __future__ import annotations

from handlers import callbacks as cb
from handlers.i18n import _, current_language
from handlers.views.outgoing import Outgoing, keyboard, row
from models.roles import Role


def staff_help() -> str:
    """What staff can do."""
    return _(
        "<b>For staff</b>\n"
        "/manage - consultations: open, close, results, links, exports; texts sent to staff\n"
        "/results - results and charts (/results NAME)\n"
        "/export - the answers as a file (/export NAME xlsx)\n"
        "/newpoll - make a quick poll in one message\n"
        "/broadcast - send a message to residents\n"
        "/link - the full link and a QR code for a poster (/link NAME SOURCE)\n"
        "/event - invite an arena's members to a meeting\n"
        "/outcome - tell residents what came of a consultation\n"
        "Send a consultation file (.yaml) to add or update one."
    )


def moderator_help() -> str:
    """What moderators can do."""
    return _(
        "<b>For moderators</b>\n"
        "/review - the next written answer to approve, reject or send to staff. "
        "You never see who wrote it."
    )


def admin_help() -> str:
    """What admins can do besides staff and moderators' work."""
    return _(
        "<b>For admins</b>\n"
        "/grant NUMBER ROLE - give a role (staff, moderator, admin)\n"
        "/revoke NUMBER ROLE - take it away\n"
        "/moderationgroup - in a group: post new written answers there"
    )


def coordinator_help() -> str:
    """What volunteer centres' coordinators can do."""
    return _(
        "<b>For volunteer centres</b>\n"
        "/needs - your centre's needs: make one, see who comes and who shared contact "
        "details, export for the annual report"
    )


def desk_help() -> str:
    """The dashboard, for everyone who works with Medvirk but coordinators."""
    return _("/dashboard - a login link to the dashboard, for work at your desk")


def role_help(roles: set[Role]) -> list[str]:
    """The sections of /help for someone's roles, their work first."""
    sections = []
    if Role.STAFF in roles:
        sections.append(
            staff_help()
            + "\n"
            + _("/focusgroup - draw a focus group from an arena's members by lot")
        )
    if Role.MODERATOR in roles:
        sections.append(moderator_help())
    if Role.COORDINATOR in roles:
        sections.append(coordinator_help())
    if Role.ADMIN in roles:
        sections.append(admin_help())
    if roles & {Role.STAFF, Role.MODERATOR, Role.ADMIN}:
        sections.append(desk_help())
    return sections


def help_text() -> str:
    """What a citizen can do."""
    taking_part = _(
        "/arenas - meetings and groups you can join, and news you asked for\n"
        "/stop - no more messages from us (/start brings them back)"
    )
    volunteering = _("/volunteer - help the volunteer centres when it suits you")
    return _(
        "<b>What you can do</b>\n"
        "/consultations - see what you can answer now\n"
        "/language - change language\n"
        "/privacy - what we store about you\n"
        "/mydata - get a copy of your data\n"
        "/delete - delete your data\n"
        "/cancel - take a break; continue later where you left off\n"
        "/help - this message"
    ) + ("\n" + taking_part + "\n" + volunteering)


def help_message(roles: set[Role] | None = None) -> Outgoing:
    """The commands, as a message: the sections of the person's roles first."""
    return Outgoing("\n\n".join([*role_help(roles or set()), help_text()]))


def staff_welcome(roles: set[Role]) -> Outgoing:
    """/start from someone with a role who has not joined as a resident: their work, not consent.

    The button shows the residents' welcome, for answering consultations themselves.
    """
    intro = _("Hi! You work with Medvirk here. These are your commands:")
    resident = _(
        "To answer consultations yourself, as a resident, you first accept the privacy notice."
    )
    text = "\n\n".join([intro, *role_help(roles), resident])
    button = row(_("🙋 Take part as a resident"), cb.ResidentWelcome(current_language()))
    return Outgoing(text, keyboard(button))


def welcome_back() -> Outgoing:
    """/start from someone who already agreed."""
    return Outgoing(_("Welcome back!"))


def consultation_not_found() -> Outgoing:
    """A consultation's link that leads nowhere."""
    return Outgoing(
        _("I could not find that consultation. It may have ended, or the link is wrong.")
    )


def unknown_command() -> Outgoing:
    """A command this bot does not have (or the person may not use: it reveals nothing)."""
    return Outgoing(_("I do not know that command. Send /help to see what I can do."))


def stale_button() -> str:
    """A button this bot does not know (old, garbled or forged)."""
    return _("This button does not work any more. Send /consultations to continue.")


def edited_message() -> Outgoing:
    """An edited message: edits are not read."""
    return Outgoing(
        _(
            "I do not read edited messages. To change an answer, use the buttons "
            "in the summary at the end."
        )
    )


def private_chat_please() -> str:
    """A command in a group: citizens talk to the bot in private."""
    return _("Please write to me in a private chat.")


def failure() -> str:
    """Something went wrong on our side."""
    return _("Sorry, something went wrong. Please try again.")
