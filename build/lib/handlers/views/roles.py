"""What an admin reads when granting and revoking roles in the chat."""

from __future__ import annotations

from handlers.i18n import _
from handlers.views.outgoing import Outgoing


def role_usage(command: str) -> Outgoing:
    """How to write /grant or /revoke."""
    return Outgoing(
        _(
            "Write {command} followed by the person's Telegram user number and "
            "a role: staff, moderator or admin. People find their number "
            "with /privacy."
        ).format(command=command)
    )


def role_changed(user_id: int, role: str, *, given: bool, changed: bool) -> Outgoing:
    """The outcome of /grant (``given``) or /revoke, and whether anything changed."""
    if given:
        text = _("{user} is now {role}.") if changed else _("{user} already was {role}.")
    elif changed:
        text = _("{user} is no longer {role}.")
    else:
        text = _("{user} did not have the role {role}.")
    return Outgoing(text.format(user=user_id, role=role))
