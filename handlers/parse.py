"""Reading what an update carries, for the handlers that parse it before their one domain call."""

from __future__ import annotations

from telegram import Update


def callback_data(update: Update) -> str | None:
    """The pressed button's packed data; None when the update is no button press."""
    return update.callback_query.data if update.callback_query else None
