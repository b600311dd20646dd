"""Blocked words and phrases, matched as whole words in one pass over the prompt's words."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from itertools import compress, count
from typing import Any

import re2

from bot.core.i18n import Text, _
from bot.moderation.limits import MAX_WORD_CHARS
from bot.moderation.normalize import normalize, split, word_matches, words
from bot.moderation.skeleton import fold


class BadWord(ValueError):
    """A term that cannot be blocked; `text` completes "That cannot be blocked: ..." (`reason`: its English)."""

    def __init__(self, reason: Text | str) -> None:
        super().__init__(str(reason))
        self.reason, self.text = str(reason), reason


def check_word(term: str) -> str:
    """The term's normalized words joined by single spaces (the same key for "Big  Cat" and "big cat"),
    or BadWord."""
    term = term.strip()
    if not term:
        raise BadWord(_("it is empty"))
    if len(term) > MAX_WORD_CHARS:
        raise BadWord(_("it is {length} characters long, and the limit is {most}", length=len(term),
                        most=MAX_WORD_CHARS))
    found = words(term)
    if not found:
        raise BadWord(_("it has no letters or digits, and only whole words are matched"))
    return " ".join(found)


def folded_words(text: str) -> list[str]:
    """The words a term is matched by: look-alike letters and accents undone, as in prompts."""
    return split(fold(normalize(text)))


@dataclass(frozen=True, slots=True)
class WordHit:
    term: str  # the term as configured
    first: int  # index of its first word among the prompt's words
    last: int  # index of its last word


def _options() -> Any:
    options = re2.Options()
    options.log_errors = False
    options.never_capture = True
    return options


_OPTIONS = _options()


_EDGE = {False: "[^a-z]", True: "[^0-9]"}  # what may stand next to a word of letters, or a number


# Past this many instructions, RE2's DFA for a tree of phrases may need more states than it keeps (500
# phrases of 30 words made of two letters take a millisecond a search), so a list whose tree is
# larger is screened by first words only (the built-in list of minors is about 8,700).
SCREEN_MAX_PROGRAM = 20_000


def _screen(keys: list[list[str]]) -> tuple[Any, bool]:
    """One RE2 search for the places where a term may stand as whole words, and whether it is exact on
    ASCII text. None when RE2 would compile neither kind: then every prompt's words are read.

    Exact: a term's words in order, with no ASCII letter (around a word of letters) or digit (around a
    number) right before or after it, and none of them between its words. On ASCII text, where those
    are all the letters and digits there are, that is exactly where a term stands; elsewhere it finds
    those places and maybe a few more (a term next to a letter of another script). A prompt with none
    of the terms then costs one linear pass, and is never split into words. The terms are written as
    a tree of their words (phrases that start alike share their start), as the automaton is: written
    one after another, RE2 would keep a thread in each phrase at once.

    Past SCREEN_MAX_PROGRAM: the first words alone, a tree of letters whose DFA stays small."""
    tree: dict[str, Any] = {}
    size = 0  # about the exact screen's RE2 program: a step per byte of each word, a few per gap and edge
    for key in keys:
        node = tree
        for word in key:
            if word not in node:
                size += len(word.encode()) + 4
            node = node.setdefault(word, {})
        node[""] = {}  # a term ends here

    def after(word: str, node: dict[str, Any]) -> str:
        """`word` and what may follow it."""
        digits = word.isdecimal()
        ways = [f"(?:{_EDGE[digits]}|$)"] if "" in node else []
        for nxt in sorted(node.keys() - {""}):
            # Two words of a kind have something between them, or they would be one word.
            gap = "[^a-z0-9]+" if nxt.isdecimal() == digits else "[^a-z0-9]*"
            ways.append(gap + after(nxt, node[nxt]))
        return re2.escape(word) + (ways[0] if len(ways) == 1 else f"(?:{'|'.join(ways)})")

    def compiled(follow: Callable[[str], str]) -> Any:
        alternatives = []
        for digits in (False, True):
            starts = [follow(word) for word in sorted(tree) if word.isdecimal() == digits]
            if starts:
                alternatives.append(f"(?:^|{_EDGE[digits]})(?:{'|'.join(starts)})")
        try:
            return re2.compile("|".join(alternatives), _OPTIONS) if alternatives else None
        except re2.error:
            return None

    if size <= SCREEN_MAX_PROGRAM:  # (not compiled at all when it would surely be too large)
        exact = compiled(lambda word: after(word, tree[word]))
        if exact is not None and exact.programsize <= SCREEN_MAX_PROGRAM:
            return exact, True
    return compiled(lambda word: re2.escape(word) + f"(?:{_EDGE[word.isdecimal()]}|$)"), False


# `find_from` goes back to the screen this many times per call at most, then reads on word by word.
MAX_SKIPS = 16


class WordList:
    """An Aho-Corasick automaton over words: each of the prompt's words is looked at a bounded number
    of times whatever the terms, so a check is linear in the prompt and independent of the list's size
    (a phrase sharing its start with another costs nothing extra). Only the words that occur in some
    term are fed to it: any other word sends it back to its start.

    `screen` looks at a prompt's text first (`_screen`): most prompts are never split into words, and
    an ASCII one is read only from where a term may start (`find_from`)."""

    def __init__(self, terms: Iterable[str]) -> None:
        # State 0 is the root; a state is the sequence of words read on the way to it.
        self._goto: list[dict[str, int]] = [{}]
        own: list[tuple[str, int] | None] = [None]  # the term ending exactly here, and its length in words
        self.terms: list[str] = []
        keys: list[list[str]] = []
        for term in terms:
            key = folded_words(term)
            if not key:
                continue
            keys.append(key)
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

        self._vocabulary = frozenset(word for key in keys for word in key)
        self._screen, self.screen_exact = _screen(keys)
        self._inside: Any = None  # built on first use by `inside`

    def __len__(self) -> int:
        return len(self.terms)

    def inside(self, runs: Sequence[str]) -> tuple[str, str] | None:
        """The first one-word term (three letters or more) found anywhere in one of `runs` (letters
        spelled apart and joined: "anude" holds "nude"), and that run: the first run that holds one,
        and the term found first in it. For the built-in lists, whose terms are ASCII letters."""
        if not runs:
            return None
        if self._inside is None:
            singles = sorted({" ".join(folded_words(t)) for t in self.terms if len(folded_words(t)) == 1
                              and len(folded_words(t)[0]) >= 3}, key=lambda t: (-len(t), t))
            by_key = {" ".join(folded_words(t)): t for t in reversed(self.terms)}
            self._inside = (re2.compile("|".join(re2.escape(t) for t in singles), _OPTIONS) if singles else None,
                            by_key)
        compiled, by_key = self._inside
        if compiled is None:
            return None
        text = "\n".join(runs)  # one search for them all: no term holds a line break, so none spans two runs
        found = compiled.search(text)
        if found is None:
            return None
        first = text.rfind("\n", 0, found.start()) + 1
        end = text.find("\n", found.start())
        return by_key[found.group()], text[first:None if end < 0 else end]

    def screen(self, encoded: bytes, pos: int = 0) -> int | None:
        """Where in the text (normalized, as UTF-8) from `pos` on one of the terms may start, at the
        earliest; None when it surely holds none of them as whole words there."""
        if not self._vocabulary:
            return None
        if self._screen is None:
            return pos
        found = self._screen.search(encoded, pos)
        return None if found is None else found.start()

    def find_from(self, text: str, place: int) -> tuple[str, int, int] | None:
        """`find` on the words of `text` (normalized, ASCII) from `place`, where `screen` found a term
        may start, with where in `text` the term's words are: the first term that ends there, and its
        span. Past that place, each time the automaton is back at its start (no term under way), it
        skips to the next place the screen finds (and there is no term if there is none): with an
        exact screen the term is found before that (a word or two from the place), so this is for a
        screen by first words."""
        goto, fail, hit = self._goto, self._fail, self._hit
        encoded = text.encode()  # (ASCII: its offsets are the text's)
        skips = 0
        start = text.rfind(" ", 0, place) + 1  # a word may start before the place (after a digit, "12yo")
        while True:
            state = 0
            spans: list[tuple[int, int]] = []
            for match in word_matches(text, start):
                spans.append(match.span())
                word = match.group()
                while state and word not in goto[state]:
                    state = fail[state]
                state = goto[state].get(word, 0)
                found = hit[state]
                if found is not None:
                    return found[0], spans[-found[1]][0], spans[-1][1]
                if state == 0 and match.start() >= place and skips < MAX_SKIPS:
                    skips += 1
                    after = match.end()
                    further = self.screen(encoded, after - 1)  # (the screen reads the character before a word)
                    if further is None:
                        return None
                    place = further
                    start = max(after, text.rfind(" ", 0, place) + 1)
                    break
            else:
                return None

    def find(self, prompt_words: Sequence[str]) -> WordHit | None:
        """The first term (by where it ends in the prompt) found as whole words in sequence."""
        goto, fail, hit = self._goto, self._fail, self._hit
        state, last = 0, -1
        # The indexes of the words that occur in some term (found by C loops): any other word would
        # take the automaton back to its start, where it also is after a gap.
        for i in compress(count(), map(self._vocabulary.__contains__, prompt_words)):
            if i != last + 1:
                state = 0
            last = i
            word = prompt_words[i]
            while state and word not in goto[state]:
                state = fail[state]
            state = goto[state].get(word, 0)
            found = hit[state]
            if found is not None:
                return WordHit(found[0], i - found[1] + 1, i)
        return None
