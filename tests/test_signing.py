"""Signed tokens: only their signer's, only until they expire, never altered."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.signing import sign, unsign

NOW = datetime(2027, 1, 15, 12, 0, tzinfo=UTC)
SECRET = b"k" * 32


def test_a_token_gives_back_its_value_until_it_expires() -> None:
    token = sign(SECRET, "session-42", NOW + timedelta(minutes=10))
    assert unsign(SECRET, token, NOW) == "session-42"
    assert unsign(SECRET, token, NOW + timedelta(minutes=10)) is None


@pytest.mark.parametrize(
    "forge",
    [
        lambda t: t.replace("session-42", "session-43"),
        lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),
        lambda t: t.split(".")[0],
        lambda t: "",
        lambda t: "a.b.c.d",
    ],
)
def test_an_altered_or_garbled_token_gives_nothing(forge: object) -> None:
    token = sign(SECRET, "session-42", NOW + timedelta(minutes=10))
    assert unsign(SECRET, forge(token), NOW) is None  # type: ignore[operator]


def test_another_secret_does_not_accept_it() -> None:
    token = sign(SECRET, "session-42", NOW + timedelta(minutes=10))
    assert unsign(b"x" * 32, token, NOW) is None
