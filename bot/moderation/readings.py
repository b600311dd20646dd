"""All readings of a prompt, quickly: what the prompt rules compare against (bot/moderation/skeleton.py
defines each reading on whole texts; this builds them from the prompt's chunks and keeps them)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from itertools import compress
from operator import itemgetter, not_
from typing import Generic, TypeVar

import re2

from bot.moderation.skeleton import (
    _ANY_TRICK,
    _AS_I,
    _AS_L,
    _EITHER,
    _INNER_PUNCT,
    _RE2_OPTIONS,
    Loose,
    _as_letters,
    _either,
    _join_spelled,
    _leet,
    _loose,
    _symbols_apart,
    fold_unmixed,
)

# `fold`, `unmix` and `loosen` (bot/moderation/skeleton.py) define the readings, on whole texts. A prompt's check builds
# them from its chunks (the text between two spaces) instead: every step above works within a chunk
# (a word, a look-alike letter, a digit inside a word never spans a space), except letters spelled
# apart, which are joined on the whole text first. Each chunk's readings are kept, since prompts
# repeat their words ("highly detailed, 4k" in every other prompt, a name in all of a member's), so a
# chunk seen before costs a dict look-up; chunks not seen yet are worked out together, as one text, by
# those functions. tests/test_prompt_bypass.py checks that the two ways always agree.

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
