"""Reserved names: nobody may call a player, a display name or a company after the system or its staff.

A name is compared by what it reads as, its *skeleton*: Unicode compatibility forms folded (full-width,
ligatures, mathematical letters), case folded, accents dropped, and every character read as the Latin letter
it looks like: Unicode's confusables (UTS #39, the data of the ``confusable-homoglyphs`` package: Greek,
Cyrillic, Cherokee, Coptic, Armenian, Lisu ... look-alikes), Latin letters beyond a-z by their Unicode name
(small capitals, letters with a stroke or a hook), and a few hand-made readings (digits and signs for letters:
'0' for 'o', '1', 'l', '|' and '!' for 'i'). So "Economy (system)", "ECONOMY SYSTEM", "Ｅｃｏｎｏｍｙ (ｓｙｓｔｅｍ)",
"Ecоnоmy (Sуstem)" (Cyrillic о and у), "Eϲonomy" (a Greek lunate sigma), "Adᴍin" (a small capital) and
"3c0n0my 5y5tem" are one name.

A letter or sign that nothing reads as Latin is not simply dropped (which let "Ad木in" read "adin"): inside a
word that has Latin-reading letters it may stand for any letter, for at most one letter in three of a reserved
word, so "Ad木in" is reserved as "Admin" is. A word made only of such characters (a name in another script)
reads as nothing, and a digit that reads as no letter is dropped, as before.
"""

from __future__ import annotations

import functools
import json
import re
import unicodedata
from importlib import resources

from economy_app.services.errors import InvalidInput

# Look-alikes read as the letter they imitate (Cyrillic, Greek, digits and signs). 'l', '1', '|' and '!' are
# all read as 'i', so "adm1n" and "admln" both read "admin".
_LOOKALIKES = str.maketrans(
    {
        "а": "a",
        "в": "b",
        "с": "c",
        "ԁ": "d",
        "е": "e",
        "ё": "e",
        "һ": "h",
        "і": "i",
        "ї": "i",
        "ј": "j",
        "к": "k",
        "ӏ": "i",
        "м": "m",
        "н": "h",
        "о": "o",
        "р": "p",
        "ԛ": "q",
        "ѕ": "s",
        "т": "t",
        "у": "y",
        "ү": "y",
        "х": "x",
        "ԝ": "w",
        "ɡ": "g",
        "α": "a",
        "β": "b",
        "ε": "e",
        "η": "n",
        "ι": "i",
        "κ": "k",
        "ν": "v",
        "ο": "o",
        "ρ": "p",
        "τ": "t",
        "υ": "u",
        "χ": "x",
        "γ": "y",
        "ω": "w",
        "μ": "u",
        "0": "o",
        "1": "i",
        "3": "e",
        "4": "a",
        "5": "s",
        "7": "t",
        "8": "b",
        "9": "g",
        "$": "s",
        "@": "a",
        "|": "i",
        "!": "i",
        "l": "i",
    }
)
_ANY = "?"  # a letter or sign that nothing reads as Latin: inside a Latin word it may stand for any letter
# Latin letters beyond a-z, by their Unicode name: "LATIN LETTER SMALL CAPITAL M", "LATIN SMALL LETTER L WITH
# STROKE", "NEGATIVE SQUARED LATIN CAPITAL LETTER M", "LATIN SMALL LIGATURE OE" ... (not turned, reversed or
# open letters, which look like other things), and regional indicator letters.
_LATIN_NAME = re.compile(
    r"^(?:[A-Z]+ )*LATIN (?:SMALL |CAPITAL )?(?:LETTER|LIGATURE) (?:SMALL CAPITAL |DOTLESS "
    r"|SCRIPT )?([A-Z]{1,2})(?: WITH .+)?$|^REGIONAL INDICATOR SYMBOL LETTER ([A-Z])$"
)


@functools.cache
def _confusables() -> dict[str, str]:
    """Every character Unicode's confusables read as one ASCII letter or digit, with that letter (read as above).
    Loaded on first use (about 20 ms)."""
    data = json.loads(resources.files("confusable_homoglyphs").joinpath("confusables.json").read_text("utf-8"))
    reading = {}
    for ch, glyphs in data.items():
        if len(ch) != 1 or ch.isascii():
            continue
        for glyph in glyphs:
            c = glyph["c"]
            if len(c) == 1 and c.isascii() and c.isalnum():
                reading[ch] = c.casefold().translate(_LOOKALIKES)
                break
    return reading


@functools.lru_cache(maxsize=4096)
def _read(ch: str) -> str:
    """What one character of a name reads as: Latin letters (a-z), ' ' (a space, punctuation: between words) or
    ``_ANY``. Unicode's confusables first (they read "ϲ" as c, where its compatibility form is a final sigma),
    then the compatibility form, case folded, without accents, letter by letter."""
    if ch in _confusables():
        return _confusables()[ch]
    out = ""
    for c in unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", ch).casefold()):
        if unicodedata.combining(c):
            continue
        c = c.translate(_LOOKALIKES)
        if "a" <= c <= "z":
            out += c
        elif c in _confusables():
            out += _confusables()[c]
        elif m := _LATIN_NAME.match(unicodedata.name(c, "")):
            out += (m.group(1) or m.group(2)).lower().translate(_LOOKALIKES)
        elif unicodedata.category(c)[0] in "LS":  # a letter or sign we cannot read (a digit reads as nothing)
            out += _ANY
        else:
            out += " "
    return out


def _readings(name: str) -> tuple[str, str]:
    """Two readings of a name, letters only: with every unreadable character dropped (the skeleton), and with
    each one inside a word that has readable letters kept as ``_ANY``."""
    text = "".join(_read(ch) for ch in unicodedata.normalize("NFC", name or ""))
    text = text.replace("rn", "m").replace("vv", "w")
    words = [w for w in text.split() if w.strip(_ANY)]
    return "".join(ch for ch in text if "a" <= ch <= "z"), "".join(words)


def skeleton(name: str) -> str:
    """What a name reads as, for comparing names (see the module's docstring)."""
    return _readings(name)[0]


# A name whose skeleton is one of these is reserved.
_RESERVED = (
    "economy",
    "system",
    "economy system",
    "the system",
    "the economy",
    "mint",
    "the mint",
    "treasury",
    "bank",
    "central bank",
    "official",
    "staff",
    "support",
    "security",
    "security team",
    "root",
    "operator",
    "moderator",
    "mod",
    "admin",
    "administrator",
    "sysadmin",
    "game master",
)
# ... and so is a name whose skeleton contains one of these.
_RESERVED_PARTS = (
    "economy system",
    "system economy",
    "administrator",
    "moderator",
    "sysadmin",
    "system account",
    "system notice",
    "system message",
    "security check",
    "security team",
    "support team",
    "economy team",
    "economy staff",
    "economy support",
    "economy security",
    "official economy",
    "economy official",
)


_RESERVED_SKELETONS = frozenset(skeleton(n) for n in _RESERVED)
_RESERVED_PART_SKELETONS = tuple(skeleton(n) for n in _RESERVED_PARTS)
_ADMIN, _ECONOMY, _SYSTEM = skeleton("admin"), skeleton("economy"), skeleton("system")


def _at(reading: str, word: str, i: int) -> bool:
    """Whether ``reading`` spells ``word`` at ``i``, ``_ANY`` standing for any letter, but for at most one letter
    in three of the word ("Ad?in" spells "admin"; "a????" spells nothing)."""
    if not 0 <= i <= len(reading) - len(word):
        return False
    span = reading[i : i + len(word)]
    return all(r in (w, _ANY) for r, w in zip(span, word)) and span.count(_ANY) <= max(1, len(word) // 3)


def _spells(reading: str, word: str) -> bool:
    return any(_at(reading, word, i) for i in range(len(reading) - len(word) + 1))


def _reserved(reading: str) -> bool:
    if not reading.strip(_ANY):
        return False
    return (
        any(len(reading) == len(r) and _at(reading, r, 0) for r in _RESERVED_SKELETONS)
        or any(_spells(reading, part) for part in _RESERVED_PART_SKELETONS)
        or _at(reading, _ADMIN, 0)
        or _at(reading, _ADMIN, len(reading) - len(_ADMIN))
        or (_spells(reading, _ECONOMY) and _spells(reading, _SYSTEM))
    )


def is_reserved(name: str) -> bool:
    """True for the system's own names and names that pose as staff (the rules above, and any name that
    starts or ends with "admin", or speaks of both the economy and the system), in either reading."""
    return any(_reserved(reading) for reading in _readings(name))


def check_not_reserved(name: str, what: str) -> str:
    """``name`` unchanged, or InvalidInput when it is reserved."""
    if is_reserved(name):
        raise InvalidInput(f"That {what} is reserved: it could be mistaken for the game's own accounts or staff.")
    return name
