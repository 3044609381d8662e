"""The stratified lottery behind focus groups: reproducible, and checkable by anyone.

Pure functions, no database. docs/focus-groups.md explains them for people who check a draw.

- Everyone in the pool has a *lottery key*: 16 hex characters, an HMAC of their participant id
  with a secret of the installation (not the export key, so a draw cannot be joined to answers).
- The *seed* is a random nine-digit number, chosen when the group is drawn, stored and shown.
- A member's *rank* is ``SHA-256("<seed>:<key>")`` in hex. In each stratum the members with the
  lowest ranks are drawn, as many as the stratum's quota; a replacement is the next one by
  rank. Anyone with the seed and the keys can recompute it (``printf '%s' "$seed:$key" |
  sha256sum``), and since SHA-256 spreads ranks evenly, every member of a stratum has the same
  chance whatever the seed.
- Quotas follow the population by the largest-remainder method (:func:`apportion`).
"""

from __future__ import annotations

import hashlib
import math
import secrets
from collections.abc import Iterable, Mapping

#: The stratum of a focus group drawn without strata.
EVERYONE = "*"


def new_seed() -> str:
    """A random nine-digit seed (from the operating system's random source)."""
    return str(100_000_000 + secrets.randbelow(900_000_000))


def rank(seed: str, key: str) -> str:
    """A member's place in the draw: ``SHA-256("<seed>:<key>")``, hex; lower is drawn first."""
    return hashlib.sha256(f"{seed}:{key}".encode()).hexdigest()


def in_order(seed: str, keys: Iterable[str]) -> list[str]:
    """``keys`` in the order the lottery draws them."""
    return sorted(keys, key=lambda key: (rank(seed, key), key))


def draw(
    seed: str, pool: Mapping[str, Iterable[str]], quotas: Mapping[str, int]
) -> dict[str, list[str]]:
    """Draw each stratum's quota from its members: the lowest ranks, in order.

    A stratum with fewer members than its quota gets all of them.
    """
    return {
        stratum: in_order(seed, pool.get(stratum, ()))[: max(quota, 0)]
        for stratum, quota in quotas.items()
    }


def next_in_line(seed: str, members: Iterable[str], taken: Iterable[str]) -> str | None:
    """The replacement: the stratum's member with the lowest rank not drawn before; or None."""
    used = set(taken)
    return next((key for key in in_order(seed, members) if key not in used), None)


def apportion(seats: int, weights: Mapping[str, float]) -> dict[str, int]:
    """Share ``seats`` among strata in proportion to ``weights`` (largest remainder).

    Each stratum gets the whole part of its exact share; the seats left go to the largest
    remainders, ties to the stratum named first in sorted order. Strata of weight 0 get none.
    Without any weight the seats are shared equally.
    """
    names = sorted(weights)
    if not names or seats <= 0:
        return dict.fromkeys(names, 0)
    total = sum(max(weights[n], 0.0) for n in names)
    exact = {
        n: seats * max(weights[n], 0.0) / total if total else seats / len(names) for n in names
    }
    given = {n: math.floor(exact[n] + 1e-9) for n in names}
    left = seats - sum(given.values())
    by_remainder = sorted(names, key=lambda n: (-(exact[n] - given[n]), n))
    for name in by_remainder[:left]:
        given[name] += 1
    return given


def stratum_key(dimensions: Iterable[str], bands: Iterable[str]) -> str:
    """The name of a stratum: ``age=15-29;district=sentrum`` (:data:`EVERYONE` without strata)."""
    parts = [f"{d}={b}" for d, b in zip(dimensions, bands, strict=True)]
    return ";".join(parts) or EVERYONE


def stratum_bands(stratum: str) -> list[tuple[str, str]]:
    """The (question, band) pairs a stratum name stands for."""
    if stratum == EVERYONE:
        return []
    return [tuple(part.split("=", 1)) for part in stratum.split(";")]  # type: ignore[misc]
