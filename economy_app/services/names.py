"""Reserved names: nobody may call a player, a display name or a company after the system or its staff.

A name is compared by its *skeleton*: Unicode compatibility forms folded (full-width, ligatures), case
folded, accents dropped, look-alike Cyrillic and Greek letters and digits read as the Latin letters
they imitate, and everything but letters removed. So "Economy (system)", "ECONOMY SYSTEM",
"Ｅｃｏｎｏｍｙ (ｓｙｓｔｅｍ)", "Ecоnоmy (Sуstem)" (Cyrillic о and у) and "3c0n0my 5y5tem" are one
name.
"""

from __future__ import annotations

import unicodedata

from economy_app.services.errors import InvalidInput

# Look-alikes read as the letter they imitate (Cyrillic, Greek, digits and signs). 'l', '1', '|' and '!' are
# all read as 'i', so "adm1n" and "admln" both read "admin".
_LOOKALIKES = str.maketrans({
    "а": "a", "в": "b", "с": "c", "ԁ": "d", "е": "e", "ё": "e", "һ": "h", "і": "i", "ї": "i", "ј": "j",
    "к": "k", "ӏ": "i", "м": "m", "н": "h", "о": "o", "р": "p", "ԛ": "q", "ѕ": "s", "т": "t", "у": "y",
    "ү": "y", "х": "x", "ԝ": "w", "ɡ": "g",
    "α": "a", "β": "b", "ε": "e", "η": "n", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p", "τ": "t",
    "υ": "u", "χ": "x", "γ": "y", "ω": "w", "μ": "u",
    "0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b", "9": "g",
    "$": "s", "@": "a", "|": "i", "!": "i", "l": "i",
})

# A name whose skeleton is one of these is reserved.
_RESERVED = ("economy", "system", "economy system", "the system", "the economy", "mint", "the mint", "treasury",
             "bank", "central bank", "official", "staff", "support", "security", "security team", "root",
             "operator", "moderator", "mod", "admin", "administrator", "sysadmin", "game master")
# ... and so is a name whose skeleton contains one of these.
_RESERVED_PARTS = ("economy system", "system economy", "administrator", "moderator", "sysadmin", "system account",
                   "system notice", "system message", "security check", "security team", "support team",
                   "economy team", "economy staff", "economy support", "economy security", "official economy",
                   "economy official")


def skeleton(name: str) -> str:
    """What a name reads as, for comparing names (see the module's docstring)."""
    text = unicodedata.normalize("NFKC", name or "").casefold()
    text = "".join(ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch))
    text = text.translate(_LOOKALIKES).replace("rn", "m").replace("vv", "w")
    return "".join(ch for ch in text if "a" <= ch <= "z")


_RESERVED_SKELETONS = frozenset(skeleton(n) for n in _RESERVED)
_RESERVED_PART_SKELETONS = tuple(skeleton(n) for n in _RESERVED_PARTS)
_ADMIN = skeleton("admin")


def is_reserved(name: str) -> bool:
    """True for the system's own names and names that pose as staff (the rules above, and any name that
    starts or ends with "admin", or speaks of both the economy and the system)."""
    s = skeleton(name)
    if not s:
        return False
    return (s in _RESERVED_SKELETONS or any(part in s for part in _RESERVED_PART_SKELETONS)
            or s.startswith(_ADMIN) or s.endswith(_ADMIN)
            or (skeleton("economy") in s and skeleton("system") in s))


def check_not_reserved(name: str, what: str) -> str:
    """``name`` unchanged, or InvalidInput when it is reserved."""
    if is_reserved(name):
        raise InvalidInput(f"That {what} is reserved: it could be mistaken for the game's own accounts or staff.")
    return name
