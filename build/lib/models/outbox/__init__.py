"""The outbox: broadcasts to audiences, and one delivery row per message to send.

Every message that is not a direct reply (broadcasts, reminders, invitations, follow-ups) is a
:class:`Delivery` row, written in the same transaction as the decision to send it; the delivery
worker (``bot/delivery.py``) claims due rows, sends them under the rate limits and records each
outcome. Nothing about a message in flight lives only in memory, so a crash loses nothing.

One idea per module:

- :mod:`~models.outbox.tables`: the :class:`Broadcast` and :class:`Delivery` tables and their
  states;
- :mod:`~models.outbox.audiences`: who a broadcast goes to (:data:`AUDIENCES`), counted in SQL;
- :mod:`~models.outbox.drafts`: composing a broadcast and confirming it;
- :mod:`~models.outbox.broadcasts`: a confirmed broadcast's life: started, queued in batches,
  paused, resumed or cancelled, done, reported;
- :mod:`~models.outbox.messages`: messages of no broadcast, queued and cancelled;
- :mod:`~models.outbox.queue`: the worker's side: claims under a lease, outcomes;
- :mod:`~models.outbox.quiet_hours`: the hours in which messages that are not urgent wait.

Handlers and the runtime import from here (``from models import outbox``); modules inside
``models/`` import from the module that defines a name.
"""

from models.outbox.audiences import (
    AUDIENCES,
    Audience,
    AudienceKind,
    arena_by_id,
    audience_condition,
    audience_languages,
    count_audience,
    count_participants,
    known_sources,
)
from models.outbox.broadcasts import (
    QUEUE_BATCH,
    Counts,
    active_broadcasts,
    broadcasts_to_queue,
    cancel,
    delivery_counts,
    finish_if_done,
    pause,
    queue_batch,
    resume,
    start_due,
    unreported,
)
from models.outbox.drafts import (
    ANNOUNCEMENT_LIMIT,
    NotReady,
    confirm,
    has_content,
    new_draft,
)
from models.outbox.messages import cancel_pending, enqueue, enqueue_for_everyone
from models.outbox.queue import (
    Claim,
    Outcome,
    claim,
    mark_unreachable,
    outbox_depth,
    record,
    release,
    release_others,
    renew,
)
from models.outbox.quiet_hours import QuietHours
from models.outbox.tables import (
    ACTIVE_STATES,
    Broadcast,
    BroadcastState,
    Delivery,
    DeliveryState,
)

__all__ = [
    "ACTIVE_STATES",
    "ANNOUNCEMENT_LIMIT",
    "AUDIENCES",
    "QUEUE_BATCH",
    "Audience",
    "AudienceKind",
    "Broadcast",
    "BroadcastState",
    "Claim",
    "Counts",
    "Delivery",
    "DeliveryState",
    "NotReady",
    "Outcome",
    "QuietHours",
    "active_broadcasts",
    "arena_by_id",
    "audience_condition",
    "audience_languages",
    "broadcasts_to_queue",
    "cancel",
    "cancel_pending",
    "claim",
    "confirm",
    "count_audience",
    "count_participants",
    "delivery_counts",
    "enqueue",
    "enqueue_for_everyone",
    "finish_if_done",
    "has_content",
    "known_sources",
    "mark_unreachable",
    "new_draft",
    "outbox_depth",
    "pause",
    "queue_batch",
    "record",
    "release",
    "release_others",
    "renew",
    "resume",
    "start_due",
    "unreported",
]
