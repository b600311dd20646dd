"""Blocked words and phrases, matched as whole words in one pass over the prompt's words."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import re2

from bot.moderation.limits import MAX_WORD_CHARS
from bot.moderation.normalize import normalize, split, words
from bot.moderation.skeleton import fold


class BadWord(ValueError):
    """A term that cannot be blocked; `reason` completes "That word can't be blocked: ..."."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def check_word(term: str) -> str:
    """The term's normalized words joined by single spaces (the same key for "Big  Cat" and "big cat"),
    or BadWord."""
    term = term.strip()
    if not term:
        raise BadWord("it is empty")
    if len(term) > MAX_WORD_CHARS:
        raise BadWord(f"it is {len(term)} characters long, and the limit is {MAX_WORD_CHARS}")
    found = words(term)
    if not found:
        raise BadWord("it has no letters or digits, and only whole words are matched")
    return " ".join(found)


def folded_words(text: str) -> list[str]:
    """The words a term is matched by: look-alike letters and accents undone, as in prompts."""
    return split(fold(normalize(text)))


@dataclass(frozen=True, slots=True)
class WordHit:
    term: str  # the term as configured
    first: int  # index of its first word among the prompt's words
    last: int  # index of its last word


class WordList:
    """An Aho-Corasick automaton over words: each of the prompt's words is looked at a bounded number
    of times whatever the terms, so a check is linear in the prompt and independent of the list's size
    (a phrase sharing its start with another costs nothing extra)."""

    def __init__(self, terms: Iterable[str]) -> None:
        # State 0 is the root; a state is the sequence of words read on the way to it.
        self._goto: list[dict[str, int]] = [{}]
        own: list[tuple[str, int] | None] = [None]  # the term ending exactly here, and its length in words
        self.terms: list[str] = []
        for term in terms:
            key = folded_words(term)
            if not key:
                continue
            state = 0
            for word in key:
                nxt = self._goto[state].get(word)
                if nxt is None:
                    nxt = len(self._goto)
                    self._goto[state][word] = nxt
                    self._goto.append({})
                    own.append(None)
                state = nxt
            if own[state] is None:  # two spellings of one phrase: the first configured one is reported
                own[state] = (term, len(key))
                self.terms.append(term)
        self._fail = [0] * len(self._goto)
        # The longest term that ends at a state, its own or one of its suffixes' ("big cat" ends in "cat").
        self._hit: list[tuple[str, int] | None] = list(own)
        queue = deque(self._goto[0].values())
        while queue:
            state = queue.popleft()
            for word, nxt in self._goto[state].items():
                fail = self._fail[state]
                while fail and word not in self._goto[fail]:
                    fail = self._fail[fail]
                self._fail[nxt] = self._goto[fail].get(word, 0)
                if self._hit[nxt] is None:
                    self._hit[nxt] = self._hit[self._fail[nxt]]
                queue.append(nxt)

        self._inside: Any = None  # built on first use by `inside`

    def __len__(self) -> int:
        return len(self.terms)

    def inside(self, run: str) -> str | None:
        """The first one-word term (three letters or more) found anywhere in `run`, letters spelled
        apart and joined ("anude" holds "nude"); for the built-in lists, whose terms are ASCII."""
        if self._inside is None:
            singles = sorted({" ".join(folded_words(t)) for t in self.terms if len(folded_words(t)) == 1
                              and len(folded_words(t)[0]) >= 3}, key=lambda t: (-len(t), t))
            by_key = {" ".join(folded_words(t)): t for t in reversed(self.terms)}
            options = re2.Options()
            options.log_errors = False
            options.never_capture = True
            self._inside = (re2.compile("|".join(re2.escape(t) for t in singles), options) if singles else None,
                            by_key)
        compiled, by_key = self._inside
        found = None if compiled is None else compiled.search(run)
        return None if found is None else by_key[found.group()]

    def find(self, prompt_words: Sequence[str]) -> WordHit | None:
        """The first term (by where it ends in the prompt) found as whole words in sequence."""
        goto, fail, hit = self._goto, self._fail, self._hit
        state = 0
        for i, word in enumerate(prompt_words):
            while state and word not in goto[state]:
                state = fail[state]
            state = goto[state].get(word, 0)
            found = hit[state]
            if found is not None:
                return WordHit(found[0], i - found[1] + 1, i)
        return None
