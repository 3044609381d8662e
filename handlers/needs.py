"""Coordinators and their centres' needs: ``/needs``, one need's page, stopping, cancelling,
and the exports for the annual report.

Creating a need is the wizard in ``handlers/wizards/need.py``; volunteers answer in
``handlers/volunteer.py``. Every action is scoped to the coordinator's own centres: a need of
another centre looks like one that does not exist.
"""

from __future__ import annotations

from telegram import InputFile, Update

from handlers import callbacks as cb
from handlers.common import Reply, Scene, answer, answer_with_files, callback_data
from handlers.context import BotContext
from handlers.guards import requires
from handlers.i18n import _, ngettext
from handlers.views import needs as views
from handlers.views.outgoing import Outgoing
from handlers.views.volunteer import NeedTexts
from models import needs, volunteers
from models.centres import Centre, all_tags, centres_of, list_centres
from models.needs import Need, NeedProblem, NeedState
from models.roles import Role, audit

MENU_SIZE = 10
ACTIONS = ("show", "list", "close", "close!", "cancel", "cancel!", "needs", "stats")


@requires(Role.COORDINATOR, "/needs")
async def needs_command(update: Update, context: BotContext) -> None:
    """``/needs``: the needs of the coordinator's centres, and a button to create one."""
    await answer(update, context, lambda scene: _menu_reply(scene, edit=False))


async def _menu_reply(scene: Scene, *, edit: bool) -> Reply:
    menu = await needs_menu(scene)
    return Reply(edit=menu) if edit else Reply(send=[menu])


async def needs_menu(scene: Scene) -> Outgoing:
    """The coordinator's centres' needs with filled/needed."""
    centres = await centres_of(scene.session, scene.user_id)
    if not centres:
        return views.no_centre()
    listed = await needs.needs_of(scene.session, [c.id or 0 for c in centres], limit=MENU_SIZE)
    counted = [(need, await needs.counts(scene.session, need.id or 0)) for need in listed]
    return views.needs_menu(centres, counted, scene.runtime.timezone)


async def mine(scene: Scene, need_id: int) -> tuple[Need, Centre] | None:
    """The published need and its centre, if it is one of the coordinator's centres'."""
    need = await scene.session.get(Need, need_id)
    if need is None or need.state == NeedState.DRAFT:
        return None
    centres = {c.id: c for c in await centres_of(scene.session, scene.user_id)}
    centre = centres.get(need.centre_id)
    return (need, centre) if centre is not None else None


@requires(Role.COORDINATOR, "need.admin")
async def on_admin(update: Update, context: BotContext) -> None:
    """A need's page and its actions, the list, and the exports (sent as files)."""
    data = cb.NeedAdmin.unpack(callback_data(update))
    if data.action not in ACTIONS:
        raise cb.InvalidCallback("unknown action")
    await answer_with_files(
        update,
        context,
        lambda scene, files: admin(scene, data, files),
        lambda: _("No volunteer is named in it: counts only."),
    )


async def admin(scene: Scene, data: cb.NeedAdmin, files: list[InputFile]) -> Reply:
    """Carry out one coordinator action; an export goes into ``files``."""
    if data.action == "list":
        return await _menu_reply(scene, edit=True)
    if data.action in ("needs", "stats"):
        return await _export(scene, data.action, files)
    found = await mine(scene, data.need_id)
    if found is None:
        return Reply(notice=views.gone())
    need, centre = found
    if data.action == "close":
        return Reply(edit=views.close_question(need))
    if data.action == "cancel":
        count = await needs.counts(scene.session, need.id or 0)
        return Reply(edit=views.cancel_question(need, count.yes + count.waiting))
    notice = None
    if data.action in ("close!", "cancel!"):
        notice = await _stop(scene, need, centre, cancel=data.action == "cancel!")
    return Reply(edit=await need_detail(scene, need, centre), notice=notice)


async def _stop(scene: Scene, need: Need, centre: Centre, *, cancel: bool) -> str:
    """Stop sign-ups, or cancel and tell the volunteers; the toast."""
    runtime = scene.runtime
    try:
        if not cancel:
            await needs.close(scene.session, need, scene.now)
            told = None
        else:
            texts = NeedTexts(runtime.timezone, {centre.id or 0: centre})
            policy = runtime.reminder_policy()
            told = await needs.cancel(scene.session, need, scene.now, texts, policy)
    except NeedProblem as problem:
        return views.problem_text(problem)
    action = "need.cancel" if cancel else "need.close"
    await audit(scene.session, scene.user_id, action, need.ref, {"told": told}, now=scene.now)
    if told is None:
        return _("Sign-ups stopped.")
    return ngettext(
        "Cancelled. {n} volunteer is told.", "Cancelled. {n} volunteers are told.", told
    ).format(n=told)


async def _export(scene: Scene, what: str, files: list[InputFile]) -> Reply:
    """The needs of the coordinator's centres, or the anonymous statistics, as a CSV file."""
    session = scene.session
    centres = await centres_of(session, scene.user_id)
    if not centres:
        return Reply(notice=_("You are not tied to a volunteer centre yet."))
    reports = await needs.report(session, [c.id or 0 for c in centres])
    if what == "needs":
        content = views.needs_csv(reports, scene.runtime.timezone)
    else:
        content = views.stats_csv(
            await volunteers.count_volunteers(session),
            await volunteers.volunteers_per_choice(session),
            all_tags(await list_centres(session)),
            reports,
        )
    files.append(InputFile(content, filename=f"medvirk-volunteering-{what}.csv"))
    await audit(session, scene.user_id, f"need.export.{what}", None, now=scene.now)
    return Reply(notice=_("Export ready."))


async def need_detail(scene: Scene, need: Need, centre: Centre) -> Outgoing:
    """A need for its coordinator, with its counts, shared contacts and feedback now."""
    count = await needs.counts(scene.session, need.id or 0)
    shared = await needs.contacts(scene.session, need.id or 0)
    return views.need_detail(need, centre, count, shared, scene.runtime.timezone)
