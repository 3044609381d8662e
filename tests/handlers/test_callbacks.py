"""Button data: every kind of button routes on a prefix of its own."""

from __future__ import annotations

from collections import Counter

from handlers import callbacks as cb


def _kinds() -> list[type[cb.CallbackData]]:
    found, todo = [], list(cb.CallbackData.__subclasses__())
    while todo:
        kind = todo.pop()
        found.append(kind)
        todo.extend(kind.__subclasses__())
    return found


def test_no_two_kinds_of_button_share_a_prefix() -> None:
    # Two kinds with one prefix would send one kind's presses to the other's handler.
    prefixes = Counter(kind.prefix for kind in _kinds())
    assert [p for p, n in prefixes.items() if n > 1] == []
    # Nor may one prefix start another's with a colon next: "w" and "ws" are told apart only
    # by the colon that follows a prefix in the packed data.
    assert all(":" not in p for p in prefixes)
