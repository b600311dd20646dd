"""Blocked regular expressions: untrusted input, so RE2 (linear time, bounded memory) and not `re`."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import re2

from bot.core.i18n import Text, _
from bot.core.text import code_span
from bot.moderation.limits import (
    COMBINED_MAX_MEM,
    GROUP_MAX_WEIGHT,
    MAX_PATTERN_CHARS,
    MAX_PATTERN_PROGRAM,
    MAX_PATTERN_WEIGHT,
    MAX_SERVER_WEIGHT,
    PATTERN_MAX_MEM,
)
from bot.moderation.weight import weight

log = logging.getLogger(__name__)

Compiled = Any  # re2's compiled pattern; google-re2 ships no type information


class BadPattern(ValueError):
    """A pattern that cannot be blocked; `text` completes "That pattern cannot be used: ..." (`reason`: its
    English)."""

    def __init__(self, reason: Text | str) -> None:
        super().__init__(str(reason))
        self.reason, self.text = str(reason), reason


def _options(max_mem: int) -> Any:
    options = re2.Options()
    options.log_errors = False  # RE2 would print every refused pattern to stderr
    options.case_sensitive = False
    options.never_capture = True  # groups are never read; without them a search stays in the DFA
    options.max_mem = max_mem
    return options


_OPTIONS = _options(PATTERN_MAX_MEM)


def _reason(error: re2.error) -> Text | str:
    """RE2's message ("missing ): (a", as bytes) as a phrase: "missing ) in `(a`" (RE2's own words, in English)."""
    raw = error.args[0] if error.args else ""
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    what, sep, where = text.partition(": ")
    if sep and where:
        return f"{what} in {code_span(where, 60)}"
    if "too large" in text:
        return _("it is too large for the pattern engine's memory limit")
    return text or _("the pattern engine refused it")


def _compile(text: str, max_mem: int = PATTERN_MAX_MEM) -> Compiled:
    try:
        return re2.compile(text, _OPTIONS if max_mem == PATTERN_MAX_MEM else _options(max_mem))
    except re2.error as e:
        raise BadPattern(_reason(e)) from None


def check_pattern(text: str) -> Compiled:
    """The compiled pattern, matched case-insensitively against `normalize`d prompts, or BadPattern."""
    if not text:
        raise BadPattern(_("it is empty"))
    if len(text) > MAX_PATTERN_CHARS:
        raise BadPattern(_("it is {length} characters long, and the limit is {most}", length=len(text),
                           most=MAX_PATTERN_CHARS))
    compiled = _compile(text)
    if compiled.programsize > MAX_PATTERN_PROGRAM:
        raise BadPattern(_("it is too complex to check quickly ({steps} steps once compiled, and the limit is "
                           "{most}); try a shorter repetition count", steps=compiled.programsize,
                           most=MAX_PATTERN_PROGRAM))
    # `a*` or `x?` is found in every prompt (as nothing at all), so it would block them all.
    if compiled.search("") is not None:
        raise BadPattern(_("it can match empty text, so it would block prompts that contain nothing it names"))
    return compiled


def check_new_pattern(text: str, others: Sequence[str] = ()) -> Compiled:
    """`check_pattern`, and admission decided from the pattern itself (for /config patterns add, never for
    stored rows): the same verdict on every machine, in every run, however loaded the machine is.

    RE2 searches in linear time, but its speed depends on how many states its DFA needs: counting
    multiplies them (`[ab]*a[ab]{15}z` needs 2^15, and then RE2 falls back to its slower NFA), and so do
    patterns searched together when each keeps some state of its own (`ab.*ba`, `cd.*dc`, ...). So each
    pattern is given a weight (`weight`), bounded alone and for the server's patterns together; RE2's
    program size and memory bound the rest (`check_pattern`). bench/moderation.py runs the heaviest
    configurations this admits against the prompt check's 1 ms goal."""
    compiled = check_pattern(text)
    heavy = weight(text)
    if heavy > MAX_PATTERN_WEIGHT:
        raise BadPattern(_("it is too complex to check quickly (weight {weight}: each `.`, class or alternative "
                           "counts once per repetition, and the limit is {most}); try a shorter repetition count "
                           "or fewer `.`", weight=heavy, most=MAX_PATTERN_WEIGHT))
    usable = []
    for other in others:
        try:
            usable.append((other, check_pattern(other)))
        except BadPattern:
            continue  # a stored row the rules skip anyway
    total = heavy + sum(weight(other) for other, _ in usable)
    if total > MAX_SERVER_WEIGHT:
        raise BadPattern(_("with this server's other patterns it would be too complex to check quickly (weight "
                           "{weight} together, and the limit is {most}); remove a pattern with a repetition count "
                           "or `.*` first", weight=total, most=MAX_SERVER_WEIGHT))
    together = PatternList([*usable, (text, compiled)])
    if together.split:
        raise BadPattern(_("with this server's other patterns it would not fit the pattern engine's memory; "
                           "remove a long pattern first"))
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
    raise BadPattern(_("it cannot be combined with other patterns"))


class PatternList:
    """A server's patterns, compiled once per configuration change.

    A check usually finds nothing, so the patterns are searched a few at a time as one alternation:
    one linear DFA pass over the prompt for many patterns. Only on a hit is each pattern tried in turn
    to name the one that matched. (`re2.Set` would be as fast, but when its DFA runs out of memory it
    answers "no match", which google-re2's binding cannot tell from a real one: a filter that fails
    open. A single RE2 falls back to its NFA instead.)

    Patterns are grouped in their configured order so that each group's total `weight` stays within
    GROUP_MAX_WEIGHT: weights multiply a DFA's states when searched together (`[ab]*a[ab]{6}z` and
    `ab.*ba` each keep state of their own), and one thrashing DFA would slow every pattern in it.
    Which group a pattern is in changes only speed, never the answer.
    """

    def __init__(self, patterns: Sequence[tuple[str, Compiled]]) -> None:
        self._patterns = list(patterns)
        self.split = False  # a group did not fit RE2's memory together: its patterns are searched alone
        groups: list[list[tuple[str, Compiled]]] = []
        loads: list[int] = []
        for text, compiled in self._patterns:
            heavy = weight(text)
            spot = next((i for i, load in enumerate(loads) if load + heavy <= GROUP_MAX_WEIGHT), None)
            if spot is None:
                groups.append([(text, compiled)])
                loads.append(heavy)
            else:
                groups[spot].append((text, compiled))
                loads[spot] += heavy
        self._searches: list[Compiled] = []
        for group in groups:
            if len(group) == 1:
                self._searches.append(group[0][1])
                continue
            try:
                self._searches.append(_compile("|".join(_grouped(text) for text, _ in group), COMBINED_MAX_MEM))
            except BadPattern as e:
                log.info("%d blocked patterns searched one by one: together %s", len(group), e.reason)
                self.split = True
                self._searches.extend(c for _, c in group)

    def __len__(self) -> int:
        return len(self._patterns)

    @property
    def texts(self) -> list[str]:
        return [text for text, _ in self._patterns]

    def find(self, normalized: str, encoded: bytes | None = None) -> tuple[str, str] | None:
        """The first configured pattern that matches, and the text it matched (`encoded`: the text's
        UTF-8, when the caller has it already)."""
        if not self._patterns:
            return None
        # Bytes: google-re2 maps every offset back to str positions for a str, which costs more than
        # the search itself on a 1,500-character prompt.
        if encoded is None:
            encoded = normalized.encode()
        if all(search.search(encoded) is None for search in self._searches):
            return None
        for text, compiled in self._patterns:
            match = compiled.search(encoded)
            if match is not None:
                # `\C` can match part of a character; the rest of a match ends on character boundaries.
                return text, match.group().decode("utf-8", "replace")
        return None
