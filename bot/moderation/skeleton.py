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
from collections.abc import Callable
from dataclasses import dataclass
from itertools import compress
from operator import itemgetter, not_
from typing import Generic, TypeVar

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


# -- all readings of a prompt, quickly ----
# `fold`, `unmix` and `loosen` above define the readings, on whole texts. A prompt's check builds
# them from its chunks (the text between two spaces) instead: every step above works within a chunk
# (a word, a look-alike letter, a digit inside a word never spans a space), except letters spelled
# apart, which are joined on the whole text first. Each chunk's readings are kept, since prompts
# repeat their words ("highly detailed, 4k" in every other prompt, a name in all of a member's), so a
# chunk seen before costs a dict look-up; chunks not seen yet are worked out together, as one text, by
# the functions above. tests/test_prompt_bypass.py checks that the two ways always agree.

T = TypeVar("T")
# Kept per kind of reading: this many chunks of up to this many characters (a longer one is worked
# out each time it occurs: no word is that long, so it is rare, and it would take the room of many),
# a few MB at most between them.
CHUNKS_KEPT = 8192
CHUNK_KEPT_CHARS = 48
_FIRST, _SECOND, _THIRD = itemgetter(0), itemgetter(1), itemgetter(2)


class _Chunks(Generic[T]):
    """Each chunk's result, worked out once: `batch` gets the chunks not known yet and answers for
    all of them (or None when it cannot, and `one` answers for each). Bounded: when full it starts
    over. Safe from any thread: each change is one dict operation, and a race only works a chunk out
    twice. A result is never empty or None."""

    def __init__(self, batch: Callable[[list[str]], list[T] | None], one: Callable[[str], T]) -> None:
        self._known: dict[str, T] = {}
        self._batch = batch
        self._one = one

    def __call__(self, chunks: list[str]) -> list[T]:
        known = self._known
        found = list(map(known.get, chunks))
        if None not in found:
            return found  # type: ignore[return-value]
        missing = list(dict.fromkeys(compress(chunks, map(not_, found))))  # (a result is a non-empty tuple)
        worked = self._batch(missing)
        fresh = dict(zip(missing, worked if worked is not None else map(self._one, missing), strict=True))
        if len(known) + len(fresh) > CHUNKS_KEPT:
            known.clear()
        if max(map(len, missing)) <= CHUNK_KEPT_CHARS:
            known.update(fresh)
            merged = list(map(known.get, chunks))
            if None not in merged:
                return merged  # type: ignore[return-value]
        else:
            known.update((chunk, value) for chunk, value in fresh.items() if len(chunk) <= CHUNK_KEPT_CHARS)
        # A long chunk, or the cache started over (here or in another thread).
        return [fresh[chunk] if value is None else value for chunk, value in zip(chunks, found, strict=True)]

    def clear(self) -> None:
        self._known.clear()


def _split_back(text: str, sep: str, count: int) -> list[str] | None:
    parts = text.split(sep)
    return parts if len(parts) == count else None


def _exact_one(chunk: str) -> tuple[str, str]:
    """(folded, folded with its mixed-script words transliterated first)."""
    folded, unmixed = fold_unmixed(chunk)
    return folded, folded if unmixed is None else unmixed


def _exact_batch(chunks: list[str]) -> list[tuple[str, str]] | None:
    whole, unmixed = fold_unmixed(" ".join(chunks))
    folded = _split_back(whole, " ", len(chunks))
    mixed = folded if unmixed is None else _split_back(unmixed, " ", len(chunks))
    if folded is None or mixed is None:
        return None  # a transliteration with a space in it: chunk by chunk
    return list(zip(folded, mixed, strict=True))


def _loose_one(chunk: str) -> tuple[str, str, bool]:
    """A chunk of text whose spelled-apart letters are joined: (read with `1 ! |` as i, as l, whether
    either occurs inside a word)."""
    inner = _INNER_PUNCT.sub("", chunk.replace("_", "-"))
    return _leet(inner, _AS_I), _leet(inner, _AS_L), _EITHER.search(inner) is not None


_APART = "\x00"  # between chunks read together by `_leet`, which never makes or takes it


def _loose_batch(chunks: list[str]) -> list[tuple[str, str, bool]] | None:
    joined = _INNER_PUNCT.sub("", " ".join(chunks).replace("_", "-"))
    inner = _split_back(joined, " ", len(chunks))
    if inner is None or _APART in joined:
        return None
    text = _symbols_apart(_APART.join(inner))
    as_i = _split_back(_as_letters(text, _AS_I), _APART, len(chunks))
    as_l = _split_back(_as_letters(text, _AS_L), _APART, len(chunks))
    if as_i is None or as_l is None:
        return None
    either = [False] * len(chunks)
    for found in _EITHER.finditer(joined):  # (no space in what it matches)
        either[joined.count(" ", 0, found.start())] = True
    return list(zip(as_i, as_l, either, strict=True))


_EXACT: _Chunks[tuple[str, str]] = _Chunks(_exact_batch, _exact_one)
_LOOSE: _Chunks[tuple[str, str, bool]] = _Chunks(_loose_batch, _loose_one)

# Where `_SPELLED` can match at all, in one linear RE2 pass (Python's `re` tries every position): three
# single letters or digits, each apart from the next by one to three other characters.
_MAY_BE_SPELLED = re2.compile(r"(?:^|[^a-z0-9])[a-z0-9](?:[^a-z0-9]{1,3}[a-z0-9]){2}(?:[^a-z0-9]|$)", _RE2_OPTIONS)


@dataclass(frozen=True)
class Readings:
    folded: str  # `fold(normalized)`
    unmixed: str | None  # `fold(unmix(normalized))` where it differs from `folded`
    loose: Loose | None  # `loosen` of the last of those two


def read(normalized: str) -> Readings:
    """The readings of `normalize`d text, as `fold`, `unmix` and `loosen` give them, built from its chunks."""
    if normalized.isascii():
        folded, unmixed = normalized, None
    else:
        pairs = _EXACT(normalized.split(" "))
        folded = " ".join(map(_FIRST, pairs))
        mixed = " ".join(map(_SECOND, pairs))
        unmixed = None if mixed == folded else mixed
    return Readings(folded, unmixed, _loosen_chunks(folded if unmixed is None else unmixed))


def _loosen_chunks(folded: str) -> Loose | None:
    """`loosen(folded)`, from the chunks' readings."""
    encoded = folded.encode()
    if _ANY_TRICK.search(encoded) is None:
        return None
    joined, spelled = _join_spelled(folded) if _MAY_BE_SPELLED.search(encoded) is not None else (folded, [])
    chunks = _LOOSE(joined.split(" "))
    as_i = " ".join(map(_FIRST, chunks))
    if _either(any(map(_THIRD, chunks)), spelled):
        return _loose(folded, (as_i, " ".join(map(_SECOND, chunks))), spelled)
    return _loose(folded, (as_i,), spelled)


def forget_chunks() -> None:
    """Drop every chunk's kept readings (for benchmarks of prompts never seen before)."""
    _EXACT.clear()
    _LOOSE.clear()
