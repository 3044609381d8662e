"""Personal data and abusive language in free texts, on a table of real-looking cases."""

from __future__ import annotations

import pytest

from models.masking import (
    Kind,
    abusive_words,
    find_personal_data,
    has_valid_control_digits,
    identity_number_kind,
    mask,
    screen,
    split,
)

# Numbers with both control digits right (checked by hand for the first: 1·3 + 5·7 + 0·6 +
# 5·1 + 8·8 + 5·9 + 4·4 + 3·5 + 2·2 = 187 = 17·11, so k1 = 0; 5 + 20 + 0 + 10 + 56 + 30 + 20 +
# 12 + 6 + 0 = 159, 159 mod 11 = 5, so k2 = 6).
FNR = "15058543206"  # 15 May 1985
FNR_LEAP_DAY = "29020034589"  # 29 February 2000
FNR_NEW_YEARS_EVE = "31129949980"
D_NUMBER = "41019012393"  # D-number: day 01 + 40
D_NUMBER_71 = "71019010052"  # the highest D-number day, 31 + 40
H_NUMBER = "01418510095"  # H-number: month 01 + 40

MASKED = [
    # (text as typed, text as masked)
    (
        f"Fødselsnummeret mitt er {FNR}, ring meg",
        "Fødselsnummeret mitt er [national id], ring meg",
    ),
    ("fnr 150585 43206.", "fnr [national id]."),
    ("fnr: 150585-43206", "fnr: [national id]"),
    ("født 15.05.85 43206", "født [national id]"),
    ("150585 432 06", "[national id]"),
    ("15 05 85 43206", "[national id]"),
    (f"({FNR_LEAP_DAY})", "([national id])"),
    (FNR_NEW_YEARS_EVE, "[national id]"),
    (f"D-nummer {D_NUMBER}", "D-nummer [d-number]"),
    (f"dnr {D_NUMBER_71[:6]} {D_NUMBER_71[6:]}", "dnr [d-number]"),
    (f"H-nummer {H_NUMBER}", "H-nummer [national id]"),
    ("Ring meg på 99887766!", "Ring meg på [phone]!"),
    ("mobil 998 87 766", "mobil [phone]"),
    ("tlf. 22 33 44 55", "tlf. [phone]"),
    ("tlf 99.88.77.66 eller 22-33-44-55", "tlf [phone] eller [phone]"),
    ("+47 998 87 766", "[phone]"),
    ("ring +4799887766 i kveld", "ring [phone] i kveld"),
    ("0047 99887766", "[phone]"),
    ("004799887766", "[phone]"),
    ("(+47) 99887766", "[phone]"),
    ("+47-998-87-766.", "[phone]."),
    ("+47 2233 4455", "[phone]"),  # any grouping after the country code
    ("tlf99887766", "tlf[phone]"),
    ("kari.nordmann@example.no", "[e-mail]"),
    ("Skriv til Ola+medvirk@Kommune.NO.", "Skriv til [e-mail]."),
    ("kari (at) example.no", "[e-mail]"),
    ("kari[at]eksempel.no", "[e-mail]"),
    ("99887766@sms.example.no", "[e-mail]"),  # a number inside an address is the address
    (
        f"Jeg heter Kari, tlf 22 33 44 55, fnr {FNR[:6]} {FNR[6:]}, kari@example.no",
        "Jeg heter Kari, tlf [phone], fnr [national id], [e-mail]",
    ),
]

# Spellings a resident uses that the first version missed (issue #14, item 6). Each is
# normalised first (NFKC; format characters such as a zero-width space taken out).
MASKED_SPELLINGS = [
    (f"fnr {FNR[:6]}/{FNR[6:]}", "fnr [national id]"),
    (f"fnr {FNR[:6]}_{FNR[6:]}", "fnr [national id]"),
    (f"fnr {FNR[:6]},{FNR[6:]}", "fnr [national id]"),
    (f"fnr {FNR[:6]}\u2013{FNR[6:]}", "fnr [national id]"),  # en dash
    (f"fnr {FNR[:6]}\u2014{FNR[6:]}", "fnr [national id]"),  # em dash
    (f"fnr {FNR[:6]}  {FNR[6:]}", "fnr [national id]"),  # two spaces
    (f"fnr {FNR[:6]}\t{FNR[6:]}", "fnr [national id]"),
    (f"fnr {FNR[:6]}\n{FNR[6:]}", "fnr [national id]"),
    (f"fnr {FNR[:5]}\u200b{FNR[5:]}", "fnr [national id]"),  # a zero-width space
    ("ring 9988\u200b7766", "ring [phone]"),
    ("ring 9123 4567", "ring [phone]"),
    ("ring 912 345 67", "ring [phone]"),
    ("ring 91 234 567", "ring [phone]"),
    ("ring 4791234567", "ring [phone]"),
    ("ring 912/34/567", "ring [phone]"),
    ("ring \uff19\uff18\uff18\uff17\uff17\uff16\uff16\uff16", "ring [phone]"),  # fullwidth
    ("ring +46 70 123 45 67 i Sverige", "ring [phone] i Sverige"),
    ("ring +44 20 7946 0958", "ring [phone]"),
    ("ring +1 202 555 0143.", "ring [phone]."),
    ("skriv til ola at kommune.no", "skriv til [e-mail]"),
    ("skriv til ola [at] kommune.no", "skriv til [e-mail]"),
    ("skriv til ola krøllalfa kommune.no", "skriv til [e-mail]"),
    ("skriv til ola @ kommune.no", "skriv til [e-mail]"),
    ("skriv til ola\uff20kommune.no", "skriv til [e-mail]"),  # fullwidth @
    ("skriv til ola%40kommune.no", "skriv til [e-mail]"),
    ("skriv til ola\u200b@kommune.no", "skriv til [e-mail]"),
]

UNCHANGED = [
    # Wrong control digits: not an identity number, whatever it looks like.
    "15058543207",  # second control digit off by one
    "15058543216",  # first control digit wrong
    "150585 43207",
    "41019012394",  # D-number with a wrong control digit
    "32018510064",  # control digits right, but there is no 32nd day
    "01138510030",  # control digits right, but there is no 13th month
    "30028510086",  # control digits right, but no 30 February
    "1234.56.78903",  # an account number
    "123456789012",  # twelve digits
    "Saksnummer 2027/12345",
    # Not phone numbers.
    "12345678",  # Norwegian numbers do not start with 1 (or 0)
    "planen for 2024-2025",  # four and four is a year span
    "1234 5678",
    "dato 01.01.2025",
    "budsjett 25000000 kr",
    "kr 25000000",
    "NOK 35000000,-",
    "3 400 000 innbyggere",
    "998877665",  # nine digits
    "+47 9988",  # too short after the country code
    # Not e-mail addresses.
    "@kommunen på Instagram",
    "kari@localhost",
    "Møt opp kl. 18.00 på Huset",
    # Still not personal data, in the new spellings either.
    "planen for 2024 2025",
    "planen for 2024\u20132025",
    "budsjettet er 25 000 000",
    "dato 01/01/2025",
    "kl. 18.00\u200b",
]


@pytest.mark.parametrize(("text", "expected"), MASKED)
def test_personal_data_is_masked(text: str, expected: str) -> None:
    assert mask(text) == expected


@pytest.mark.parametrize(("text", "expected"), MASKED_SPELLINGS)
def test_personal_data_is_masked_however_it_is_spelled(text: str, expected: str) -> None:
    assert mask(text) == expected


def test_what_is_shown_around_the_mask_is_the_text_as_written() -> None:
    # Normalising is for finding; the rest of the text is shown as the person wrote it.
    assert (
        mask("\uff28\uff45\uff49! ring 9988\u200b7766 \ufb01nt")
        == "\uff28\uff45\uff49! ring [phone] \ufb01nt"
    )


@pytest.mark.parametrize("text", UNCHANGED)
def test_lookalikes_are_left_as_they_are(text: str) -> None:
    assert mask(text) == text
    assert find_personal_data(text) == []
    assert not screen(text).personal_data


@pytest.mark.parametrize(
    ("number", "kind"),
    [
        (FNR, Kind.NATIONAL_ID),
        (FNR_LEAP_DAY, Kind.NATIONAL_ID),
        (D_NUMBER, Kind.D_NUMBER),
        (D_NUMBER_71, Kind.D_NUMBER),
        (H_NUMBER, Kind.NATIONAL_ID),
        ("15058543207", None),
        ("32018510064", None),
        ("1505854320", None),  # ten digits
        ("1505854320a", None),
    ],
)
def test_identity_number_kinds(number: str, kind: Kind | None) -> None:
    assert identity_number_kind(number) == kind


def test_both_control_digits_must_be_right() -> None:
    assert has_valid_control_digits(FNR)
    for position in (9, 10):
        for digit in "0123456789":
            if digit == FNR[position]:
                continue
            changed = FNR[:position] + digit + FNR[position + 1 :]
            assert not has_valid_control_digits(changed), changed


def test_split_keeps_the_text_around_what_it_hides() -> None:
    assert split(f"A {FNR} b 99887766") == ("A ", Kind.NATIONAL_ID, " b ", Kind.PHONE)
    assert split("") == ()
    assert split("nothing here") == ("nothing here",)


def test_placeholders_can_be_chosen_by_the_reader() -> None:
    assert mask("ring 99887766", lambda kind: f"<{kind.value}>") == "ring <phone>"


def test_what_is_found_is_reported_by_kind() -> None:
    found = screen(f"{D_NUMBER}, 99887766 og kari@example.no")
    assert found.personal_data == {Kind.D_NUMBER, Kind.PHONE, Kind.EMAIL}
    assert found.needs_attention
    assert not screen("Flere benker i parken").needs_attention


@pytest.mark.parametrize(
    "text",
    [
        "Dette er faen meg dårlig",  # Bokmål
        "Jævla tull fra kommunen",
        "Politikerne er noen idioter",
        "Din drittsekk",
        "HOLD KJEFT",
        "Hald kjeft, alle saman",  # Nynorsk
        "Jævlar i helvete",
        "What a load of bullshit",  # English
        "Fucking useless",
        "go die",
        "Din dritt\u200bsekk",  # a zero-width space does not hide it
        "\uff28\uff2f\uff2c\uff24 \uff2b\uff2a\uff25\uff26\uff34",  # nor fullwidth letters
    ],
)
def test_abusive_language_is_marked(text: str) -> None:
    assert abusive_words(text)
    assert screen(text).abusive
    assert screen(text).needs_attention


@pytest.mark.parametrize(
    "text",
    [
        "Horisonten er fin fra Holmen",  # contains "hor", not a word on the lists
        "Skitt la gå, vi prøver igjen",
        "Scunthorpe har en fin park",  # a listed word inside another word does not count
        "Assessment of the plan",
        "Kjeften på meg er sår etter tannlegen",  # "kjeft" alone is not "hold kjeft"
        "Vi vil ha flere benker og grill",
    ],
)
def test_ordinary_texts_are_not_marked(text: str) -> None:
    assert abusive_words(text) == []
    assert not screen(text).abusive


def test_every_format_character_of_this_python_is_known_to_the_fast_check() -> None:
    import unicodedata

    from models.masking import _FORMAT

    missing = [
        hex(c)
        for c in range(0x110000)
        if unicodedata.category(chr(c)) == "Cf" and not _FORMAT.match(chr(c))
    ]
    assert missing == []
