"""What ``/dashboard`` answers: the one-time login link to the staff dashboard."""

from __future__ import annotations

from html import escape

from handlers.i18n import _
from handlers.views.outgoing import Outgoing


def login_link(url: str, minutes: int) -> Outgoing:
    """The link, how long it works, and that it is for this person only."""
    return Outgoing(
        _("Your login link to the dashboard:")
        + f'\n<a href="{escape(url, quote=True)}">{escape(url)}</a>\n\n'
        + _(
            "It works once, for {minutes} minutes. Do not share it: it logs in as you. "
            "Send /dashboard again for a new one."
        ).format(minutes=minutes)
    )


def dashboard_off() -> Outgoing:
    """This installation does not serve the dashboard."""
    return Outgoing(
        _("The dashboard is not switched on here. Ask whoever runs Medvirk for the municipality.")
    )
