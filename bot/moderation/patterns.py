"""Blocked regular expressions: untrusted input, so RE2 (linear time, bounded memory) and not `re`."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any

import re2

from bot.moderation.limits import COMBINED_MAX_MEM, MAX_PATTERN_CHARS, MAX_PATTERN_PROGRAM, PATTERN_MAX_MEM
from bot.text import code_span

log = logging.getLogger(__name__)

Compiled = Any  # re2's compiled pattern; google-re2 ships no type information


class BadPattern(ValueError):
    """A pattern that cannot be blocked; `reason` completes "That pattern can't be used: ..."."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _options(max_mem: int) -> Any:
    options = re2.Options()
    options.log_errors = False  # RE2 would print every refused pattern to stderr
    options.case_sensitive = False
    options.never_capture = True  # groups are never read; without them a search stays in the DFA
    options.max_mem = max_mem
    return options


_OPTIONS = _options(PATTERN_MAX_MEM)


def _reason(error: re2.error) -> str:
    """RE2's message ("missing ): (a", as bytes) as a phrase: "missing ) in `(a`"."""
    raw = error.args[0] if error.args else ""
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    what, sep, where = text.partition(": ")
    if sep and where:
        return f"{what} in {code_span(where, 60)}"
    if "too large" in text:
        return "it is too large for the pattern engine's memory limit"
    return text or "the pattern engine refused it"


def _compile(text: str, max_mem: int = PATTERN_MAX_MEM) -> Compiled:
    try:
        return re2.compile(text, _OPTIONS if max_mem == PATTERN_MAX_MEM else _options(max_mem))
    except re2.error as e:
        raise BadPattern(_reason(e)) from None


def check_pattern(text: str) -> Compiled:
    """The compiled pattern, matched case-insensitively against `normalize`d prompts, or BadPattern."""
    if not text:
        raise BadPattern("it is empty")
    if len(text) > MAX_PATTERN_CHARS:
        raise BadPattern(f"it is {len(text)} characters long, and the limit is {MAX_PATTERN_CHARS}")
    compiled = _compile(text)
    if compiled.programsize > MAX_PATTERN_PROGRAM:
        raise BadPattern(f"it is too complex to check quickly ({compiled.programsize} steps once compiled, "
                         f"and the limit is {MAX_PATTERN_PROGRAM}); try a shorter repetition count")
    # `a*` or `x?` is found in every prompt (as nothing at all), so it would block them all.
    if compiled.search("") is not None:
        raise BadPattern("it can match empty text, so it would block prompts that contain nothing it names")
    return compiled


def _grouped(text: str) -> str:
    """`text` as one alternative of the combined search. A pattern ending inside `\\Q...` (a literal
    quote RE2 lets run to the end) would swallow the rest of the alternation, so it gets its `\\E`."""
    for candidate in (f"(?:{text})", f"(?:{text}\\E)"):
        try:
            _compile(candidate)
            return candidate
        except BadPattern:
            continue
    raise BadPattern("it cannot be combined with other patterns")


# A counted repetition (`{20}`, `{2,}`, `{3,9}`) not written as a literal `\{`.
_COUNTED = re.compile(r"(?<!\\)\{\d+(?:,\d*)?\}")


class PatternList:
    """A server's patterns, compiled once per configuration change.

    A check usually finds nothing, so the patterns are first searched at once as one alternation: one
    linear DFA pass over the prompt instead of fifty. Only on a hit is each pattern tried in turn to
    name the one that matched. (`re2.Set` would be as fast, but when its DFA runs out of memory it
    answers "no match", which google-re2's binding cannot tell from a real one: a filter that fails
    open. A single RE2 falls back to its NFA instead.)

    Patterns with a counted repetition stay out of the alternation and are searched on their own:
    counting multiplies a DFA's states (`[ab]*a[ab]{15}z` needs 2^15), and in a shared DFA that
    thrashing would slow every other pattern's search too (14 ms a check instead of 40 µs in
    bench/moderation.py). Which path a pattern takes changes only speed, never the answer.
    """

    def __init__(self, patterns: Sequence[tuple[str, Compiled]]) -> None:
        self._patterns = list(patterns)
        tame = [(text, c) for text, c in self._patterns if not _COUNTED.search(text)]
        self._alone = [c for text, c in self._patterns if _COUNTED.search(text)]
        self._combined: Compiled | None = None
        if len(tame) > 1:
            try:
                self._combined = _compile("|".join(_grouped(text) for text, _ in tame), COMBINED_MAX_MEM)
            except BadPattern as e:
                log.info("%d blocked patterns searched one by one: together %s", len(tame), e.reason)
        if self._combined is None:
            self._alone = [c for _, c in self._patterns]

    def __len__(self) -> int:
        return len(self._patterns)

    @property
    def texts(self) -> list[str]:
        return [text for text, _ in self._patterns]

    def find(self, normalized: str) -> tuple[str, str] | None:
        """The first configured pattern that matches, and the text it matched."""
        if not self._patterns:
            return None
        # Bytes: google-re2 maps every offset back to str positions for a str, which costs more than
        # the search itself on a 1,500-character prompt.
        encoded = normalized.encode()
        if ((self._combined is None or self._combined.search(encoded) is None)
                and all(c.search(encoded) is None for c in self._alone)):
            return None
        for text, compiled in self._patterns:
            match = compiled.search(encoded)
            if match is not None:
                # `\C` can match part of a character; the rest of a match ends on character boundaries.
                return text, match.group().decode("utf-8", "replace")
        return None
