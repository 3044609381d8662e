"""How fast replies reach one person: a short burst at once, then Telegram's one a second."""

from __future__ import annotations

import pytest

from bot.ratelimit import BURST, ChatBuckets


def test_a_step_that_says_a_few_things_is_not_held_back() -> None:
    buckets = ChatBuckets(per_chat=1.0)
    assert BURST >= 2  # an intro and the first question go out together
    assert [buckets.take(7, 100.0) for _ in range(BURST)] == [0.0] * BURST


def test_a_person_pressing_fast_gets_about_one_message_a_second_after_the_burst() -> None:
    buckets = ChatBuckets(per_chat=1.0, burst=3)
    waits = [buckets.take(7, 100.0) for _ in range(5)]
    assert waits == [0.0, 0.0, 0.0, pytest.approx(1.0), pytest.approx(2.0)]
    # Two seconds later the queue has gone out; the bucket refills one a second from then.
    assert buckets.take(7, 104.0) == 0.0
    assert buckets.take(7, 104.0) == 0.0
    assert buckets.take(7, 104.0) == pytest.approx(1.0)


def test_one_persons_burst_never_delays_another() -> None:
    buckets = ChatBuckets(per_chat=1.0, burst=1)
    assert buckets.take(7, 100.0) == 0.0
    assert buckets.take(7, 100.0) == pytest.approx(1.0)
    assert buckets.take(8, 100.0) == 0.0


def test_the_chats_remembered_stay_about_those_of_the_last_seconds() -> None:
    buckets = ChatBuckets(per_chat=1.0, burst=2)
    for chat in range(1100):
        buckets.take(chat, 100.0)
    # A hundred seconds later those buckets are full again, and forgotten as others come.
    for chat in range(5000, 6000):
        buckets.take(chat, 200.0)
    assert len(buckets) <= 1000
