"""Staff previews of consultations: their buttons look real and only say they are a preview.

Uploading a consultation file and ``/newpoll`` are wizards (``handlers/wizards/upload.py``,
``handlers/wizards/newpoll.py``).
"""

from __future__ import annotations

from telegram import Update

from handlers.common import answer_button
from handlers.context import BotContext
from handlers.views.authoring import preview_only


async def on_preview_button(update: Update, context: BotContext) -> None:
    """Say that preview buttons do nothing."""
    assert update.callback_query is not None
    await answer_button(update.callback_query, preview_only())
