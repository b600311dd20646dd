"""What a prompt says once writing tricks are undone: the forms the rules compare against.

`fold` (always, for every rule): each look-alike character becomes the ASCII letter it imitates,
from Unicode's confusables data (UTS #39, through `confusable-homoglyphs`): Cyrillic `а`, Greek `ν`,
Cherokee `Ꭺ`. Diacritics go (`ná\\u0301ked`, `nüde`); small capitals (`ɴᴜᴅᴇ`), hooked and barred Latin
letters and regional-indicator letters become their letter, read from the character's Unicode name.
ASCII is left as typed: a UTS #39 skeleton of the whole string would also fold ASCII into ASCII
(`m` into `rn`), making the harmless "pom" the skeleton of "porn".

`unmix`: a word that mixes Latin letters with letters of another script is a spoofing sign in
itself (UTS #39's mixed-script check): such words are also read transliterated, since a Cyrillic
`у` looks like `y` but stands for `u` ("nуde"). Words wholly in one script are left alone, so
Russian, Greek or Japanese prose is never read as English.

`loosen` (always for the built-in rules; for a server's words and patterns only in strict mode):
letters spelled apart are joined (`n u d e`, `n.u.d.e`, `nu-de`), and digits and symbols inside
words read as the letters they stand for (`nud3`, `ch1ld`, `n@ked`, `$exy`). A number at the start
of a word stays a number ("12yo", "4k", "1girl"). `1`, `!` and `|` stand for `i` or `l`, so there
are two loose readings when they occur.

They work on text that is already `normalize`d (NFKC, case-folded, invisible characters removed).
A prompt's check takes all of them at once from `read`, which builds them from the prompt's chunks
(the text between two spaces), each chunk's readings kept for the next prompts.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import re2

# Transliteration, for words that mix Latin letters with another script's ("nуde" with a Cyrillic у).
from anyascii import anyascii

# Unicode's confusables.txt as data; its `is_confusable` gives a character's look-alikes.
from confusable_homoglyphs import confusables as _confusables

_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False
_RE2_OPTIONS.never_capture = True

# The combining marks used as diacritics on Latin, Greek and Cyrillic letters (Combining Diacritical
# Marks and its Extended and Supplement blocks, marks for symbols, half marks). Marks of other
# scripts (Devanagari vowel signs, the Japanese voicing marks) are part of their letters and stay.
_DIACRITIC_BLOCKS = ((0x0300, 0x036F), (0x1AB0, 0x1AFF), (0x1DC0, 0x1DFF), (0x20D0, 0x20FF), (0xFE20, 0xFE2F))
# The letter in a Latin letter's name: "LATIN LETTER SMALL CAPITAL N", "LATIN SMALL LETTER D WITH
# HOOK", "NEGATIVE SQUARED LATIN CAPITAL LETTER N". Turned or reversed letters are other shapes.
_LATIN_NAME = re.compile(r"\bLATIN (?:SMALL |CAPITAL )?LETTER (?:SMALL CAPITAL )?([A-Z])(?: WITH .*)?$")
_OTHER_SHAPE = re.compile(r"TURNED|REVERSED|INVERTED|SIDEWAYS|CLOSED|OPEN ")
_REGIONAL = re.compile(r"^REGIONAL INDICATOR SYMBOL LETTER ([A-Z])$")


def _diacritic(code: int) -> bool:
    return any(low <= code <= high for low, high in _DIACRITIC_BLOCKS)


def _ascii_alike(char: str) -> str | None:
    """The ASCII letter or digit `char` is confusable with, if Unicode's data names one."""
    found = _confusables.is_confusable(char, greedy=True, preferred_aliases=[])
    if not found:
        return None
    alike = [g["c"].lower() for g in found[0]["homoglyphs"] if len(g["c"]) == 1 and g["c"].isascii() and g["c"].isalnum()]
    letters = [c for c in alike if c.isalpha()]
    return (letters or alike or [None])[0]


def _fold_char(char: str) -> str:
    code = ord(char)
    if _diacritic(code):
        return ""
    decomposed = unicodedata.normalize("NFD", char)
    base = "".join(c for c in decomposed if not _diacritic(ord(c)))
    if base == decomposed:
        base = char  # no diacritic: the character as it is (ガ stays composed)
    if base.isascii():
        return base.lower()
    if len(base) == 1:
        alike = _ascii_alike(base)
        if alike is not None:
            return alike
        name = unicodedata.name(base, "")
        named = _REGIONAL.match(name) or (None if _OTHER_SHAPE.search(name) else _LATIN_NAME.search(name))
        if named is not None:
            return named[1].lower()
    return base


class _FoldTable(dict[int, str]):
    """`str.translate`'s table, each character worked out the first time it is seen, then kept.
    Filled from any thread: each entry is one dict store, and a race only computes it twice."""

    def __missing__(self, code: int) -> str:
        folded = _fold_char(chr(code))
        self[code] = folded
        return folded


_FOLD = _FoldTable()


def fold(normalized: str) -> str:
    """Look-alike characters as the ASCII letters they imitate, diacritics removed (ASCII stays)."""
    return normalized if normalized.isascii() else normalized.translate(_FOLD)


# A word (letters and their marks) that holds an ASCII letter next to a letter of another script; RE2
# finds them in one linear pass (Python's `re` would try every character).
_MIXED_WORD = re2.compile(r"[\pL\pM]*(?:[a-z][^\x00-\x7f\PL]|[^\x00-\x7f\PL][a-z])[\pL\pM]*", _RE2_OPTIONS)


class _TransliterationTable(dict[int, str]):
    """`str.translate`'s table for `anyascii(...).lower()` (which reads each character alone), each
    character worked out the first time it is seen, then kept (as `_FoldTable`)."""

    def __missing__(self, code: int) -> str:
        ascii_ = anyascii(chr(code)).lower()
        self[code] = ascii_
        return ascii_


_TRANSLITERATION = _TransliterationTable()


def unmix(normalized: str) -> str | None:
    """`normalized` with its mixed-script words transliterated, or None when it has none."""
    if normalized.isascii():
        return None
    encoded = normalized.encode()
    parts: list[bytes] = []
    last = 0
    for match in _MIXED_WORD.finditer(encoded):
        start, end = match.span()
        parts += [encoded[last:start], encoded[start:end].decode().translate(_TRANSLITERATION).encode()]
        last = end
    if not parts:
        return None
    return b"".join([*parts, encoded[last:]]).decode()


# The characters seen so far, and those among them that `unmix` reads as another letter than `fold`
# does (Cyrillic `с` looks like `c` and is transliterated `s`; `é` is `e` either way).
_SEEN: set[str] = set()
_DIVERGING: set[str] = set()


def _diverges(text: str) -> bool:
    """Whether `text` has a character that `unmix` and `fold` read differently."""
    chars = set(text)
    for char in chars - _SEEN:
        if char.translate(_TRANSLITERATION) != fold(char):
            _DIVERGING.add(char)  # (before it is seen: another thread that sees it then knows it too)
        _SEEN.add(char)
    return not _DIVERGING.isdisjoint(chars)


def fold_unmixed(normalized: str) -> tuple[str, str | None]:
    """`fold(normalized)`, and `fold(unmix(normalized))` where it differs, in one pass: the text between
    mixed-script words is folded once for both. (Where no character reads differently in the two,
    such as accented Latin letters, the two are the same, and mixed-script words are not looked for.)"""
    if normalized.isascii():
        return normalized, None
    if not _diverges(normalized):
        return normalized.translate(_FOLD), None
    encoded = normalized.encode()
    folded: list[str] = []
    unmixed: list[str] = []
    last = 0
    for match in _MIXED_WORD.finditer(encoded):
        start, end = match.span()
        between = encoded[last:start].decode().translate(_FOLD)
        word = encoded[start:end].decode()
        folded += (between, word.translate(_FOLD))
        unmixed += (between, word.translate(_TRANSLITERATION))  # ASCII, which `fold` leaves as it is
        last = end
    if not folded:
        return normalized.translate(_FOLD), None
    tail = encoded[last:].decode().translate(_FOLD)
    return "".join(folded) + tail, "".join(unmixed) + tail


# -- loose readings ----
# What any loose reading needs somewhere in the text, searched first in one linear RE2 pass (most
# prompts have none of it, and Python's `re` would test every character against the rules below):
# a letter or digit alone between separators, punctuation inside a word, a digit or symbol after a
# letter, or `@ $` before one.
_ANY_TRICK = re2.compile(
    r"(?:^|[^\pL\pN\pM])[a-z0-9][^\pL\pN\pM]{1,3}[a-z0-9](?:$|[^\pL\pN\pM])"
    r"|[a-z0-9][^\pL\pN\pM\s@$!|+]{1,2}[a-z0-9@$]|[a-z][0-9@$]|[a-z][!|+]+[a-z0-9]|[@$][a-z]",
    _RE2_OPTIONS)

# The tricks are read in Latin letters only: after `fold`, look-alikes already are, and the terms
# they hide are the built-in (English) ones or a strict server's.
# Three or more single letters or digits in a row, each apart from the next by one to three spaces
# or punctuation marks: "n u d e", "n.u.d.e", "n - u - d - e".
_SPELLED = re.compile(r"(?<![a-z0-9])[a-z0-9](?:[\W_]{1,3}[a-z0-9](?![a-z0-9])){2,}")
# One or two punctuation marks between letters or digits, with no space: "nu-de", "na.ked", "y/o".
_INNER_PUNCT = re.compile(r"(?<=[a-z0-9])[^\w\s@$!|+]{1,2}(?=[a-z0-9@$])")
# A number at the start of a word stays a number ("12yo", "4k", "1girl", "80085"): not leetspeak.
# (`(?<![a-z0-9])[0-9]+`, written to start with a digit, which `re` then looks for in a quick loop.)
_NUMBER = re.compile(r"([0-9](?<![a-z0-9][0-9])[0-9]*)")
# `! | +` stand for letters only inside a word ("k!d"); elsewhere they are punctuation ("nude!").
# (`(?<![a-z0-9@$])[!|+]+|[!|+]+(?![a-z0-9@$])`, written to start with the symbol, as above.)
_LONE_SYMBOL = re.compile(r"[!|+](?<![a-z0-9@$][!|+])[!|+]*|[!|+]+(?![a-z0-9@$])")
_LEET = {"0": "o", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b", "9": "g", "@": "a", "$": "s", "+": "t"}
_AS_I = str.maketrans({**_LEET, "1": "i", "!": "i", "|": "i"})
_AS_L = str.maketrans({**_LEET, "1": "l", "!": "l", "|": "l"})
# `1 ! |` inside a word (a number first is a number): `[a-z][1!|]|[!|][a-z]`, found from the symbol.
_EITHER = re.compile(r"[1!|](?<=[a-z][1!|])|[!|](?=[a-z])")


@dataclass(frozen=True)
class Loose:
    texts: tuple[str, ...]  # the loose readings (one, or two where `1 ! |` may be i or l)
    spelled: tuple[str, ...]  # the letters spelled apart, joined (and read loosely): "anude"


def _leet(text: str, table: dict[int, str]) -> str:
    """Digits and symbols read as letters, except numbers that start a word."""
    return _as_letters(_symbols_apart(text), table)


def _symbols_apart(text: str) -> str:
    """`! | +` outside words as the punctuation they are there (`_leet`'s first step)."""
    if "!" in text or "|" in text or "+" in text:
        return _LONE_SYMBOL.sub(" ", text)
    return text


def _as_letters(text: str, table: dict[int, str]) -> str:
    """Digits and symbols as letters, except numbers that start a word (`_leet`'s second step)."""
    parts = _NUMBER.split(text)  # odd parts are the numbers
    if len(parts) == 1:
        return text.translate(table)
    parts[::2] = [part.translate(table) for part in parts[::2]]
    return "".join(parts)


class _AlnumOnly(dict[int, str | None]):
    """`str.translate`'s table that keeps ASCII letters and digits and drops every other character."""

    def __missing__(self, code: int) -> str | None:
        kept = chr(code) if chr(code) in "abcdefghijklmnopqrstuvwxyz0123456789" else None
        self[code] = kept
        return kept


_ALNUM_ONLY = _AlnumOnly()


def _join_spelled(folded: str) -> tuple[str, list[str]]:
    """`folded` with its letters spelled apart joined, and those runs of letters."""
    spelled: list[str] = []

    def join(match: re.Match[str]) -> str:
        letters = match[0].translate(_ALNUM_ONLY)
        spelled.append(letters)
        return letters

    return _SPELLED.sub(join, folded), spelled


def _either(inside: bool, spelled: list[str]) -> bool:
    """Whether `1 ! |` occur inside a word (`inside`: in the joined text), so l is read for them too."""
    return inside or any(_EITHER.search(run) is not None for run in spelled)


def _loose(folded: str, texts: tuple[str, ...], spelled: list[str]) -> Loose | None:
    """The loose readings: `texts` is the joined text read with `1 ! |` as i, then as l if they occur."""
    tables = (_AS_I, _AS_L)[:len(texts)]
    found = tuple(dict.fromkeys(texts))
    runs = tuple(dict.fromkeys(_leet(run, table) if not run.isalpha() else run
                               for run in dict.fromkeys(spelled) for table in tables))
    if not runs and all(text == folded for text in found):
        return None
    return Loose(found, runs)


def loosen(folded: str) -> Loose | None:
    """The loose readings of `fold`ed text, or None when they would read exactly as it does."""
    if _ANY_TRICK.search(folded) is None:
        return None
    joined, spelled = _join_spelled(folded)
    joined = _INNER_PUNCT.sub("", joined.replace("_", "-"))
    if _either(_EITHER.search(joined) is not None, spelled):
        return _loose(folded, (_leet(joined, _AS_I), _leet(joined, _AS_L)), spelled)
    return _loose(folded, (_leet(joined, _AS_I),), spelled)
