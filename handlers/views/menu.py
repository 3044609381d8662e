"""The command menu Telegram shows next to the text box: a citizen's, and each role's own."""

from __future__ import annotations

from telegram import BotCommand

from handlers.i18n import _
from models.roles import Role


def citizen_commands() -> list[BotCommand]:
    """The commands a citizen sees, in the current language."""
    return [
        BotCommand("consultations", _("Consultations you can answer")),
        BotCommand("language", _("Change language")),
        BotCommand("privacy", _("What we store about you")),
        BotCommand("mydata", _("Get a copy of your data")),
        BotCommand("delete", _("Delete your data")),
        BotCommand("cancel", _("Take a break")),
        BotCommand("arenas", _("Meetings and groups to join")),
        BotCommand("volunteer", _("Volunteer with the volunteer centres")),
        BotCommand("stop", _("No more messages from us")),
        BotCommand("help", _("What you can do")),
        BotCommand("start", _("Start again")),
    ]


def staff_commands() -> list[BotCommand]:
    """What staff run: consultations, results, broadcasts, events, outcomes."""
    return [
        BotCommand("manage", _("Consultations: open, close, results")),
        BotCommand("results", _("Results and charts of a consultation")),
        BotCommand("export", _("Answers as a file (xlsx, csv, json)")),
        BotCommand("newpoll", _("Make a quick poll")),
        BotCommand("broadcast", _("Send a message to residents")),
        BotCommand("link", _("Link and QR code for a poster")),
        BotCommand("event", _("Invite an arena to a meeting")),
        BotCommand("outcome", _("Tell residents what came of it")),
        BotCommand("focusgroup", _("Draw a focus group by lot")),
        dashboard_command(),
    ]


def dashboard_command() -> BotCommand:
    """A login link to the dashboard (staff, moderators and admins)."""
    return BotCommand("dashboard", _("The dashboard at your desk"))


def moderator_commands() -> list[BotCommand]:
    """What moderators run."""
    return [BotCommand("review", _("Review written answers")), dashboard_command()]


def coordinator_commands() -> list[BotCommand]:
    """What volunteer centres' coordinators run."""
    return [BotCommand("needs", _("Your volunteer centre's needs"))]


def admin_commands() -> list[BotCommand]:
    """What admins run besides staff and moderators' commands."""
    return [
        BotCommand("grant", _("Give someone a role")),
        BotCommand("revoke", _("Take a role away")),
    ]


def role_commands(roles: set[Role]) -> list[BotCommand]:
    """The menu of someone with ``roles``: their work first, then what every citizen has."""
    commands: list[BotCommand] = []
    if Role.STAFF in roles:
        commands += staff_commands()
    if Role.MODERATOR in roles:
        commands += moderator_commands()
    if Role.COORDINATOR in roles:
        commands += coordinator_commands()
    if Role.ADMIN in roles:
        commands += admin_commands()
    # Once each: staff who moderate too get one /dashboard.
    unique = {command.command: command for command in commands}
    return [*unique.values(), *citizen_commands()]
