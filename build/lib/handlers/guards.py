"""Role checks declared on handlers: ``@requires(Role.STAFF, "/broadcast")``.

The decorator only records what the handler needs; :func:`handlers.common.run` checks it on
every update, inside the update's own transaction, before the handler's action runs. Someone
without the role gets the same answer as for an unknown command or button (it reveals nothing,
not even that the command exists), and the refusal is written to the audit log.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlmodel.ext.asyncio.session import AsyncSession

from handlers.context import Runtime
from models.roles import Role, audit, has_role

Handler = TypeVar("Handler", bound=Callable[..., Awaitable[None]])


@dataclass(frozen=True)
class Requirement:
    """The role a handler needs, and the name its refusals carry in the audit log."""

    role: Role
    what: str
    # In a group everyone sees the buttons: a refusal there says who may use them.
    group_notice: Callable[[], str] | None = None


_required: ContextVar[Requirement | None] = ContextVar("required_role", default=None)


def requires(
    role: Role, what: str, *, group_notice: Callable[[], str] | None = None
) -> Callable[[Handler], Handler]:
    """Let only people with ``role`` through the decorated handler; ``what`` names it."""
    needed = Requirement(role, what, group_notice)

    def decorate(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def guarded(*args: Any, **kwargs: Any) -> None:
            with required(needed):
                await handler(*args, **kwargs)

        guarded.requirement = needed  # type: ignore[attr-defined]
        return guarded  # type: ignore[return-value]

    return decorate


@contextmanager
def required(needed: Requirement) -> Iterator[None]:
    """Require a role for the updates handled inside the block (wizards name each step)."""
    token = _required.set(needed)
    try:
        yield
    finally:
        _required.reset(token)


def requirement() -> Requirement | None:
    """What the running handler requires, if anything."""
    return _required.get()


async def permitted(session: AsyncSession, user_id: int, runtime: Runtime, now: datetime) -> bool:
    """Check the running handler's requirement for ``user_id``; audit a refusal."""
    needed = _required.get()
    if needed is None or await has_role(session, user_id, needed.role, runtime.admin_ids):
        return True
    await audit(session, user_id, "denied", needed.what, {"role": needed.role.value}, now=now)
    return False
