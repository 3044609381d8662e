"""Telegram adapters: one module per feature; ``register`` holds the order."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from telegram import Update
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    MessageHandler,
    PollAnswerHandler,
    filters,
)

from handlers import authoring, consult, fallback, manage, polls, privacy, staff, start
from handlers import callbacks as cb

PRIVATE = filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE

CITIZEN_COMMANDS = {
    "start": start.start,
    "help": start.show_help,
    "language": start.choose_language,
    "privacy": privacy.show_privacy,
    "mydata": privacy.my_data,
    "delete": privacy.delete_data,
    "consultations": consult.list_consultations,
    "cancel": consult.cancel,
}

# Each checks the sender's role itself, on every update.
STAFF_COMMANDS = {
    "manage": manage.manage,
    "newpoll": authoring.new_poll,
    "results": manage.results,
    "export": manage.export,
    "grant": staff.grant_role,
    "revoke": staff.revoke_role,
}

BUTTONS: dict[type[cb.CallbackData], Callable[[Update, Any], Coroutine[Any, Any, None]]] = {
    cb.GiveConsent: start.on_consent,
    cb.PickLanguage: start.on_language,
    cb.OpenConsultation: consult.on_open,
    cb.Choose: consult.on_choose,
    cb.Toggle: consult.on_toggle,
    cb.Done: consult.on_done,
    cb.Rate: consult.on_rate,
    cb.Skip: consult.on_skip,
    cb.Back: consult.on_back,
    cb.Edit: consult.on_edit,
    cb.PrivacyChoice: privacy.on_privacy_choice,
    cb.PreviewOnly: authoring.on_preview_button,
    cb.ManageList: manage.on_manage_list,
    cb.ManageOne: manage.on_manage_one,
    cb.SetStatus: manage.on_set_status,
    cb.ShowResults: manage.on_results,
    cb.ExportAs: manage.on_export,
}

# How often scheduled work runs; what is due is read from the database each time.
TICK_SECONDS = 30
RETENTION_SECONDS = 3600


def register(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Add every handler; the first that matches an update takes it, so order matters."""
    for name, callback in {**CITIZEN_COMMANDS, **STAFF_COMMANDS}.items():
        application.add_handler(CommandHandler(name, callback, filters=PRIVATE))
    for data_class, on_press in BUTTONS.items():
        application.add_handler(CallbackQueryHandler(on_press, pattern=data_class.pattern()))
    # After the known buttons: anything else is stale, garbled or forged.
    application.add_handler(CallbackQueryHandler(fallback.unknown_button))
    # Typed answers; commands are excluded so an unknown one gets its own answer below.
    application.add_handler(
        MessageHandler(PRIVATE & filters.TEXT & ~filters.COMMAND, consult.on_text)
    )
    application.add_handler(MessageHandler(PRIVATE & filters.COMMAND, fallback.unknown_command))
    # Staff upload consultation files; for anyone else a file is just an attachment.
    application.add_handler(MessageHandler(PRIVATE & filters.Document.ALL, authoring.on_document))
    application.add_handler(MessageHandler(PRIVATE, consult.on_attachment))
    application.add_handler(PollAnswerHandler(polls.on_poll_answer))
    application.add_handler(
        MessageHandler(
            filters.ChatType.PRIVATE & filters.UpdateType.EDITED_MESSAGE, fallback.edited_message
        )
    )
    application.add_handler(
        MessageHandler(filters.ChatType.GROUPS & filters.COMMAND, fallback.group_command)
    )
    application.add_error_handler(fallback.on_error)  # type: ignore[arg-type]
    if application.job_queue is not None:
        application.job_queue.run_repeating(polls.stop_closed_polls, TICK_SECONDS, first=1)
        application.job_queue.run_repeating(privacy.apply_retention, RETENTION_SECONDS, first=60)
