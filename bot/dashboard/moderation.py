"""Moderators review free texts at their desk, with the same guarantees as in chat.

The card is chat's own (:func:`handlers.views.moderation.card`): no identity, personal data
masked. Decisions are :func:`models.moderation.decide` and :func:`~models.moderation.undo`, the
conditional updates chat uses, so a moderator in chat and one here pressing at the same moment
store one decision and the other is told. A text decided here is shown decided in the moderation
group too. Keyboard: ``a`` approve, ``r`` reject (then ``1``-``5``), ``f`` flag, ``n`` next,
``u`` undo (``static/dashboard.js``; they can be turned off on the page).
"""

from __future__ import annotations

from aiohttp import web
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.dashboard.desk import DESK, VISIT, Desk
from bot.dashboard.guard import page
from bot.dashboard.render import show
from handlers.moderation import show_in_group
from handlers.views import moderation as views
from models import moderation as mod
from models.moderation import ItemView, Reason, Status
from models.roles import Role

#: How many passed-over texts a page remembers (the rest come round again).
SKIP_LIMIT = 50
DECISIONS = {"approve": Status.APPROVED, "flag": Status.FLAGGED, "reject": Status.REJECTED}


def _skipped(form: dict[str, str]) -> list[int]:
    raw = form.get("skip", "")
    return [int(part) for part in raw.split(",") if part.isdecimal() and len(part) < 12][
        -SKIP_LIMIT:
    ]


def _card(item: ItemView | None, queue: int, heading: str) -> str | None:
    return views.card(item, queue, heading) if item is not None else None


async def _next(
    db: AsyncSession, desk: Desk, moderator: int, skip: list[int]
) -> tuple[ItemView | None, int]:
    item = await mod.next_for(db, moderator, desk.now(), skip)
    return item, await mod.queue_size(db)


def _review(
    request: web.Request,
    item: ItemView | None,
    queue: int,
    skip: list[int],
    **extra: object,
) -> web.Response:
    """The review page, or only its changing part for htmx."""
    context = {
        "item": item,
        "card": _card(item, queue, views.pending_heading(in_group=False)),
        "queue": queue,
        "skip": ",".join(str(i) for i in skip),
        "reasons": [(r.value, views.label(r)) for r in Reason],
        "conflict": None,
        "decided": None,
        "undone": False,
        **extra,
    }
    # htmx swaps in the review part only; without JavaScript the whole page comes back.
    template = "_review.html" if request.headers.get("HX-Request") else "moderation.html"
    return show(request, template, context)


@page(Role.MODERATOR, "/review")
async def review(request: web.Request) -> web.Response:
    """The next text waiting, kept for this moderator for a while."""
    desk = request.app[DESK]
    async with desk.transaction() as db:
        item, queue = await _next(db, desk, request[VISIT].user_id, [])
    return _review(request, item, queue, [])


@page(Role.MODERATOR, "moderation.decide")
async def decide(request: web.Request) -> web.Response:
    """Approve, reject with a reason, or flag the text; then the next one."""
    desk = request.app[DESK]
    form = {k: str(v) for k, v in (await request.post()).items()}
    moderator, skip = request[VISIT].user_id, _skipped(form)
    item_id, version, choice = (
        _numbers(form, "item"),
        _numbers(form, "version"),
        form.get("choice"),
    )
    status = DECISIONS.get(choice or "")
    reason = Reason(form["reason"]) if form.get("reason") in Reason.__members__.values() else None
    if status is None or (status is Status.REJECTED and reason is None):
        raise web.HTTPBadRequest(text="Choose approve, flag, or reject with a reason.")
    note = form.get("note", "").strip()[: mod.NOTE_LIMIT] or None
    if reason is Reason.OTHER and not note:
        raise web.HTTPBadRequest(text="Write the reason.")
    conflict: str | None = None
    decided: ItemView | None = None
    async with desk.transaction() as db:
        try:
            decided = await mod.decide(
                db, item_id, version, moderator, status, desk.now(), reason, note
            )
        except mod.ModerationError as error:
            conflict = _conflict_name(error)
        item, queue = await _next(db, desk, moderator, skip)
    await _show_in_group(desk, decided, queue)
    return _review(request, item, queue, skip, decided=decided, conflict=conflict)


def _numbers(form: dict[str, str], name: str) -> int:
    value = form.get(name, "")
    if not value.isdecimal() or len(value) > 12:
        raise web.HTTPBadRequest(text=f"{name} is missing.")
    return int(value)


def _conflict_name(error: mod.ModerationError) -> str:
    if isinstance(error, mod.TextChanged):
        return "changed"
    if isinstance(error, mod.ItemGone):
        return "gone"
    return "decided"


async def _show_in_group(desk: Desk, item: ItemView | None, queue: int) -> None:
    """Once committed, show the decision on the moderation group's message too."""
    if item is not None and desk.bot is not None:
        await show_in_group(desk.bot, desk.rt.default_language, item, queue)


@page(Role.MODERATOR, "moderation.undo")
async def undo(request: web.Request) -> web.Response:
    """Take one's own decision back: the text waits again, and is shown to decide on."""
    desk = request.app[DESK]
    form = {k: str(v) for k, v in (await request.post()).items()}
    moderator, skip = request[VISIT].user_id, _skipped(form)
    item_id, version = _numbers(form, "item"), _numbers(form, "version")
    undone: ItemView | None = None
    async with desk.transaction() as db:
        try:
            undone = await mod.undo(db, item_id, version, moderator, desk.now())
        except mod.ModerationError:
            item, queue = await _next(db, desk, moderator, skip)
            return _review(request, item, queue, skip, conflict="not_undoable")
        queue = await mod.queue_size(db)
    await _show_in_group(desk, undone, queue)
    return _review(request, undone, queue, skip, undone=True)


@page(Role.MODERATOR, "moderation.skip")
async def skip(request: web.Request) -> web.Response:
    """Pass a text over for now: the next one, and the passed one free for others."""
    desk = request.app[DESK]
    form = {k: str(v) for k, v in (await request.post()).items()}
    moderator = request[VISIT].user_id
    item_id = _numbers(form, "item")
    passed = [*_skipped(form), item_id][-SKIP_LIMIT:]
    async with desk.transaction() as db:
        await mod.release(db, item_id, moderator)
        item, queue = await _next(db, desk, moderator, passed)
    return _review(request, item, queue, passed)
