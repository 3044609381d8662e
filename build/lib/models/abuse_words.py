"""Short lists of abusive words and phrases in Bokmål, Nynorsk and English.

They only decide which texts moderators see first, marked "may be abusive"; nothing is refused
or hidden because of them, so a word too many costs little. Keep them short and obvious: swear
words, insults, slurs and threats people actually write. Matching is on whole words, case-blind;
an entry ending in ``*`` also matches words that begin with it (inflections and compounds:
``drittsekk*`` matches ``drittsekker``), and an entry with spaces is a phrase of whole words.
Add a word by adding it here; the tests in ``tests/domain/test_masking.py`` show the rules.
"""

from __future__ import annotations

BOKMAL = (
    "faen",
    "faens",
    "fy faen",
    "helvete*",
    "jævla*",
    "jævel*",
    "jævler*",
    "jævlig*",
    "dritt*",
    "fitte*",
    "kuk",
    "kukhue*",
    "kuken",
    "pikk",
    "pikken",
    "pikkhue*",
    "hore*",
    "horunge*",
    "rasshøl*",
    "ræva",
    "rævhøl*",
    "idiot*",
    "mongo",
    "mongoen",
    "neger*",
    "svarting*",
    "pakkis*",
    "hold kjeft",
    "drep deg",
    "ta livet av deg",
)

NYNORSK = (
    "faen",
    "helvete*",
    "jævlar*",
    "jævla*",
    "dritt*",
    "fitte*",
    "kuk",
    "pikk",
    "hore*",
    "rasshol*",
    "idiotar*",
    "hald kjeft",
    "drep deg",
    "ta livet av deg",
)

ENGLISH = (
    "fuck*",
    "motherfuck*",
    "shit*",
    "bullshit*",
    "bitch*",
    "cunt*",
    "asshole*",
    "bastard*",
    "dickhead*",
    "retard*",
    "moron*",
    "whore*",
    "slut*",
    "nigger*",
    "faggot*",
    "shut up",
    "kill yourself",
    "go die",
)

WORD_LISTS: dict[str, tuple[str, ...]] = {"nb": BOKMAL, "nn": NYNORSK, "en": ENGLISH}
