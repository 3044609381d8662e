"""Places and a waiting list: the one rule events and volunteer needs share.

Something with ``capacity`` places (an event, a volunteer need) takes yes answers until it is
full; after that a person waits on a list, in the order they asked, and the first on the list
gets a place the moment one comes free. Each kind keeps its answers in a table of its own with
the columns ``answer`` (``"yes"``, ``"waiting"`` among others), ``waiting_since`` and ``id``;
:class:`Places` names that table and the column that says what the answers are about.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table, and_, func, or_
from sqlalchemy import select as core_select
from sqlmodel.ext.asyncio.session import AsyncSession

#: The answers the rule knows; each kind of answer table may have more (maybe, invited, no).
YES = "yes"
WAITING = "waiting"


@dataclass(frozen=True)
class Places:
    """An answer table: ``table`` with its ``scope`` column (``event_id``, ``need_id``)."""

    table: Table
    scope: str

    def _in(self, scope_id: int) -> Any:
        return self.table.c[self.scope] == scope_id


def place_for(
    asks: str, before: str | None, taken: int, capacity: int | None, *, list_when_full: bool
) -> str | None:
    """The answer to store when someone asks for a place (``yes``) or the list (``waiting``).

    A place while one is free; someone with a place keeps it. When it is full, a person asking
    for the list (or already on it) waits; a plain yes waits too with ``list_when_full``,
    and otherwise gets None: nothing changes, and they may ask for the list.

    Args:
        asks: ``yes`` or ``waiting``.
        before: the person's answer so far, if any.
        taken: places taken now.
        capacity: places in all; None for no limit.
        list_when_full: a yes to a full one puts the person on the list at once.
    """
    if before == YES:
        return YES
    if capacity is None or taken < capacity:
        return YES
    if asks == YES and before != WAITING and not list_when_full:
        return None
    return WAITING


async def taken(session: AsyncSession, places: Places, scope_id: int) -> int:
    """How many places are taken."""
    connection = await session.connection()
    statement = (
        core_select(func.count())
        .select_from(places.table)
        .where(places._in(scope_id), places.table.c.answer == YES)
    )
    return int((await connection.execute(statement)).scalar_one())


async def position(
    session: AsyncSession, places: Places, scope_id: int, waiting_since: datetime, row_id: int
) -> int:
    """A waiting answer's place on the list: 1 is next."""
    t = places.table
    ahead = core_select(func.count()).where(
        places._in(scope_id),
        t.c.answer == WAITING,
        or_(
            t.c.waiting_since < waiting_since,
            and_(t.c.waiting_since == waiting_since, t.c.id < row_id),
        ),
    )
    connection = await session.connection()
    return int((await connection.execute(ahead)).scalar_one()) + 1


async def first_waiting(session: AsyncSession, places: Places, scope_id: int) -> int | None:
    """The id of the answer first on the list, or None when nobody waits."""
    t = places.table
    statement = (
        core_select(t.c.id)
        .where(places._in(scope_id), t.c.answer == WAITING)
        .order_by(t.c.waiting_since, t.c.id)
        .limit(1)
    )
    connection = await session.connection()
    return (await connection.execute(statement)).scalar_one_or_none()


async def has_room(
    session: AsyncSession, places: Places, scope_id: int, capacity: int | None
) -> bool:
    """Whether a place is free."""
    return capacity is None or await taken(session, places, scope_id) < capacity
