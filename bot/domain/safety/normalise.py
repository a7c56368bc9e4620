"""The form a message is reduced to before the crisis patterns read it.

NFKC, lower case, apostrophes deleted, sentence punctuation turned into a
`` . `` boundary token, other symbols into spaces, whitespace collapsed. So
normalised text holds only lower-case letters and digits, single spaces, and
full stops standing alone as words.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["can_occur", "normalise"]

_QUOTES = str.maketrans(
    {
        "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'",
        "\u02bc": "'", "\uff07": "'", "`": "'", "\u00b4": "'",
        "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"',
        "\u00ab": '"', "\u00bb": '"',
    }
)
# Soft hyphen, zero-width spaces and joiners, bidi marks, word joiner, BOM,
# variation selectors: invisible, and able to split a word ("ki\u200bll").
_INVISIBLE = re.compile("[\u00ad\u034f\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufe00-\ufe0f\ufeff]")
_BOUNDARY = re.compile(r"[.!?;:,\u3002\n\r\u2028\u2029]+")
_OTHER_PUNCT = re.compile(r"[^\w\s.]+")
# Letters typed three or more times in a row ("killlll", "pleeease").
_LONG_RUN = re.compile(r"([a-z])\1\1+")
_REPEATED_BOUNDARY = re.compile(r"\.(?: \.)+")


def normalise(text: str) -> str:
    """Reduce a message to the form the patterns are written for.

    >>> normalise("I want to KILL   myself!!!")
    'i want to kill myself'
    >>> normalise("I don’t want to be here... anymore")
    'i dont want to be here . anymore'
    """
    if not isinstance(text, str):
        raise TypeError(f"normalise() needs a str, not {type(text).__name__}")
    text = unicodedata.normalize("NFKC", text.translate(_QUOTES)).lower()
    text = _INVISIBLE.sub("", text).replace("'", "")
    text = _BOUNDARY.sub(" . ", text)
    text = _OTHER_PUNCT.sub(" ", text).replace("_", " ")
    text = _LONG_RUN.sub(r"\1\1", text)
    text = " ".join(text.split())
    text = _REPEATED_BOUNDARY.sub(".", text)
    return text.strip(" .")


def can_occur(char: str) -> bool:
    """Can this character appear in normalised text?"""
    return char in " ." or (char.isalnum() and char == char.lower())
