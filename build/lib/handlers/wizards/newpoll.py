"""``/newpoll``: a poll in one message, the question and then one option per line.

``/newpoll`` with the poll saves it at once; ``/newpoll`` alone explains how and waits for the
poll as the next message. The poll is stored as a one-question consultation draft.
"""

from __future__ import annotations

import secrets

from handlers.common import Reply, Scene
from handlers.views import authoring as views
from handlers.views.outgoing import Outgoing
from handlers.wizard import End, Result, Step, Turn, Typed, Wizard, begin
from models.consultation import import_consultation, load_consultation
from models.polls import PollProblem, poll_spec
from models.roles import Role, audit


async def _open(where: Scene, _ref: int, command: str) -> Reply:
    """Save the poll written after the command, or ask for one."""
    lines = [line.strip() for line in command.splitlines()]
    question = lines[0].partition(" ")[2].strip() if lines else ""
    options = [line for line in lines[1:] if line]
    if not question and not options:
        return await begin(NEWPOLL, where, None, None)
    try:
        return await _save(where, question, options)
    except PollProblem as error:
        return Reply(send=[views.poll_problem(error.problems[0])])


async def _ask_poll(_turn: Turn[None]) -> Outgoing:
    return Outgoing(views.new_poll_help())


async def _take_poll(turn: Turn[None], typed: Typed) -> Result:
    """The poll typed after ``/newpoll``: the question, then one option per line."""
    lines = [line.strip() for line in typed.text.splitlines()]
    try:
        return End(await _save(turn, lines[0] if lines else "", [ln for ln in lines[1:] if ln]))
    except PollProblem as error:
        return Reply(send=[views.poll_problem(error.problems[0])])


async def _save(where: Scene, question: str, options: list[str]) -> Reply:
    """Store the poll as a draft and preview it.

    Raises:
        PollProblem: what is wrong with the poll.
    """
    participant = where.participant
    code = (participant.language if participant else None) or where.runtime.default_language
    slug = f"poll-{where.now:%Y%m%d}-{secrets.token_hex(2)}"
    spec = poll_spec(slug, code, question, options)
    consultation, _created = await import_consultation(where.session, spec)
    await audit(
        where.session, where.user_id, "consultation.newpoll", consultation.slug, now=where.now
    )
    view = await load_consultation(where.session, consultation.id or 0)
    assert view is not None
    return Reply(send=[*views.preview(view)[1:], views.saved(view, created=True)])


NEWPOLL: Wizard[None] = Wizard(
    name="newpoll",
    key="p",
    role=Role.STAFF,
    steps={"poll": Step(ask=_ask_poll, text=_take_poll)},
    gone=views.new_poll_help,
    opener=_open,
)
