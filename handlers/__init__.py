"""Telegram adapters: one module per feature; ``register`` holds the order."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from telegram import Update
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    MessageHandler,
    PollAnswerHandler,
    filters,
)

from handlers import (
    arenas,
    authoring,
    background,
    broadcast,
    consult,
    dashboard,
    events,
    fallback,
    focus_groups,
    followups,
    lottery,
    manage,
    members,
    moderation,
    needs,
    outcomes,
    polls,
    privacy,
    roles,
    router,
    rsvp,
    start,
    volunteer,
    wizard,
)
from handlers import callbacks as cb
from handlers.wizards import WIZARDS
from handlers.wizards.broadcast import BROADCAST
from handlers.wizards.focus_group import FOCUS
from handlers.wizards.newpoll import NEWPOLL

App = Application[Any, Any, Any, Any, Any, Any]

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
    "arenas": arenas.show_arenas,
    "stop": followups.stop,
    "volunteer": volunteer.volunteer_command,
}

# Each checks the sender's role itself, on every update.
STAFF_COMMANDS = {
    "manage": manage.manage,
    "newpoll": wizard.command(NEWPOLL, what="/newpoll"),
    "results": manage.results,
    "export": manage.export,
    "link": manage.link,
    "grant": roles.grant_role,
    "revoke": roles.revoke_role,
    "review": moderation.review,
    "broadcast": wizard.command(BROADCAST, what="/broadcast"),
    "event": events.event_command,
    "outcome": outcomes.outcome_command,
    "focusgroup": wizard.command(FOCUS, what="/focusgroup"),
    "dashboard": dashboard.dashboard,
    "needs": needs.needs_command,
}

BUTTONS: dict[type[cb.CallbackData], Callable[[Update, Any], Coroutine[Any, Any, None]]] = {
    cb.GiveConsent: start.on_consent,
    cb.PickLanguage: start.on_language,
    cb.ResidentWelcome: start.on_resident_welcome,
    cb.OpenConsultation: consult.on_open,
    cb.ReadIn: consult.on_read_in,
    cb.RemindOpening: consult.on_remind_opening,
    **dict.fromkeys(consult.QUESTION_BUTTONS, consult.on_question_button),
    cb.PrivacyChoice: privacy.on_privacy_choice,
    cb.PreviewOnly: authoring.on_preview_button,
    cb.ManageList: manage.on_manage_list,
    cb.ManageOne: manage.on_manage_one,
    cb.SetStatus: manage.on_set_status,
    cb.ShowResults: manage.on_results,
    cb.ExportAs: manage.on_export,
    cb.ExportAllTexts: manage.on_export_all_texts,
    cb.ShowLink: manage.on_link,
    cb.Moderate: moderation.on_moderate,
    cb.UndoDecision: moderation.on_undo,
    cb.FlagAction: moderation.on_flag_action,
    cb.ShowFlags: moderation.on_show_flags,
    cb.WizardStart: wizard.on_start,
    cb.WizardButton: wizard.on_button,
    cb.BroadcastControl: broadcast.on_control,
    cb.ArenaToggle: arenas.on_toggle,
    cb.ArenaConsent: arenas.on_consent,
    cb.FollowUp: arenas.on_followup,
    cb.Finished: arenas.on_finished,
    cb.RsvpChoice: rsvp.on_rsvp,
    cb.EventAdmin: events.on_admin,
    cb.BackgroundOffer: background.on_offer,
    cb.BackgroundAnswer: background.on_answer,
    cb.FocusReply: lottery.on_reply,
    cb.FocusAdmin: focus_groups.on_admin,
    cb.CentreConsent: volunteer.on_centre_consent,
    cb.VolunteerConsent: volunteer.on_consent,
    cb.VolunteerEdit: volunteer.on_edit,
    cb.NeedAnswer: volunteer.on_answer,
    cb.NeedShare: volunteer.on_share,
    cb.NeedFeedback: volunteer.on_feedback,
    cb.NeedAdmin: needs.on_admin,
}

# How often scheduled work runs; what is due is read from the database each time.
TICK_SECONDS = 30
RETENTION_SECONDS = 3600


def register(application: App) -> None:
    """Add every handler; the first that matches an update takes it, so order matters."""
    for dialog in WIZARDS:
        wizard.register(dialog)
    _commands(application)
    _buttons(application)
    _messages(application)
    application.add_error_handler(fallback.on_error)  # type: ignore[arg-type]
    _jobs(application)


def _commands(application: App) -> None:
    for name, callback in {**CITIZEN_COMMANDS, **STAFF_COMMANDS}.items():
        application.add_handler(CommandHandler(name, callback, filters=PRIVATE))
    # Admins send it in the group that should get new texts, so it is taken in groups too,
    # before the group fallback below answers every other command there.
    application.add_handler(
        CommandHandler(
            "moderationgroup", moderation.moderation_group, filters=filters.UpdateType.MESSAGE
        )
    )


def _buttons(application: App) -> None:
    for data_class, on_press in BUTTONS.items():
        application.add_handler(CallbackQueryHandler(on_press, pattern=data_class.pattern()))
    # After the known buttons: anything else is stale, garbled or forged.
    application.add_handler(CallbackQueryHandler(fallback.unknown_button))


def _messages(application: App) -> None:
    # Typed text goes to its one owner (a waiting dialog, else the consultation in progress);
    # commands are excluded so an unknown one gets its own answer below.
    text = PRIVATE & filters.TEXT & ~filters.COMMAND
    application.add_handler(MessageHandler(text, router.on_text))
    application.add_handler(MessageHandler(PRIVATE & filters.COMMAND, fallback.unknown_command))
    # A document goes to a dialog waiting for one, else it is a staff upload or an attachment.
    application.add_handler(MessageHandler(PRIVATE & filters.Document.ALL, router.on_document))
    application.add_handler(MessageHandler(PRIVATE, consult.on_attachment))
    application.add_handler(PollAnswerHandler(polls.on_poll_answer))
    # Someone blocked or unblocked the bot: broadcasts leave out who cannot be reached.
    application.add_handler(
        ChatMemberHandler(members.on_my_chat_member, ChatMemberHandler.MY_CHAT_MEMBER)
    )
    edited = filters.ChatType.PRIVATE & filters.UpdateType.EDITED_MESSAGE
    application.add_handler(MessageHandler(edited, fallback.edited_message))
    group_command = filters.ChatType.GROUPS & filters.COMMAND
    application.add_handler(MessageHandler(group_command, fallback.group_command))
    # After a typed answer committed (group 0 above): post any new free text to the moderation
    # group. A separate group, so it runs in addition to the handler that took the message.
    application.add_handler(MessageHandler(text, moderation.after_text), group=1)


def _jobs(application: App) -> None:
    jobs = application.job_queue
    if jobs is None:
        return
    # Every job runs in every replica (there is no lock around them): each is safe to run twice
    # at once, as docs/operations.md ("What runs where") says job by job.
    jobs.run_repeating(polls.stop_closed_polls, TICK_SECONDS, first=1, name="stop-closed-polls")
    # Texts a crash or a Telegram error left unposted to the moderation group.
    jobs.run_repeating(
        moderation.announce_job, TICK_SECONDS, first=5, name="post-to-moderation-group"
    )
    jobs.run_repeating(privacy.apply_retention, RETENTION_SECONDS, first=60, name="retention")
    # Reminders to finish a consultation (every replica looks; a unique key lets one write).
    jobs.run_repeating(
        followups.remind_unfinished,
        followups.FINISH_REMINDER_TICK,
        first=3,
        name="remind-unfinished",
    )
