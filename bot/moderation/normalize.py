"""The one form prompts and configured terms are compared in, and the words whole-word matching uses."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from itertools import islice

# Unicode's Default_Ignorable_Code_Point set (DerivedCoreProperties.txt): zero-width spaces and
# joiners, bidi controls, the soft hyphen, the combining grapheme joiner, variation selectors, Hangul
# fillers, tag characters. They render as nothing, so `n\u200bude` looks like "nude" to a reader.
_IGNORABLE = re.compile(
    "[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e"
    "\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufff8"
    "\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0000-\U000e0fff]"
)


def _marks(low: int, high: int) -> str:
    """Combining marks (categories Mn, Mc, Me) as a character class body: Python's `\\w` leaves them
    out, which would cut Devanagari or Arabic words apart at every vowel sign."""
    return "".join(chr(c) for c in range(low, high) if unicodedata.category(chr(c)).startswith("M"))


# A word is a run of letters (and their marks), or a run of digits: "1girl" is "1" "girl" and "sd3" is
# "sd" "3", so a number glued to a word does not hide it. Everything else separates words: spaces,
# punctuation, the underscore ("nude_art" is "nude" "art") and apostrophes ("child's" is "child" "s",
# so a possessive still matches its word; "don't" is "don" "t", on both sides alike).
# `re` tests a class of BMP characters in constant time but walks astral ranges one by one, so the
# few astral marks (Brahmi, musical symbols) are only looked up for astral characters. `LETTER` is one
# character of a word of letters.
LETTER = rf"(?:[^\W\d_]|[{_marks(0x300, 0x10000)}]|(?=[\U00010000-\U0010ffff])[{_marks(0x10000, 0x20000)}])"
_WORD = re.compile(rf"{LETTER}+|\d+")
_ASCII_WORD = re.compile(r"[a-z]+|[0-9]+")  # most prompts, twice as fast; case-folded text has no A-Z


def normalize(text: str) -> str:
    """NFKC, case-folded, default-ignorable characters removed: `Ｎ\\u200bＵＤＥ` is `nude`."""
    text = _IGNORABLE.sub("", text)  # first: a joiner between a letter and its accent blocks composing
    text = unicodedata.normalize("NFKC", text).casefold()
    # Case folding can undo NFKC (it decomposes a few letters, e.g. "ǰ"); once more makes it stable.
    if not unicodedata.is_normalized("NFKC", text):
        text = unicodedata.normalize("NFKC", text)
    return text


def split(normalized: str) -> list[str]:
    """The words of text that is already `normalize`d."""
    return (_ASCII_WORD if normalized.isascii() else _WORD).findall(normalized)


def spans(normalized: str, upto: int | None = None) -> list[tuple[int, int]]:
    """Where each word of `split(normalized)` is (the first `upto` of them), to quote the prompt's own
    text around a match."""
    found = (_ASCII_WORD if normalized.isascii() else _WORD).finditer(normalized)
    return [m.span() for m in (found if upto is None else islice(found, upto))]


def word_matches(normalized: str, start: int = 0) -> Iterator[re.Match[str]]:
    """The words of `split(normalized)` from `start` on (a position where no word is cut), one by one."""
    return (_ASCII_WORD if normalized.isascii() else _WORD).finditer(normalized, start)


def words(text: str) -> list[str]:
    """The unit of whole-word matching: `text` normalized, then split into words."""
    return split(normalize(text))
