"""What a pattern costs the DFA: a position that matches more than one character (`.`, a class, `\\d`,
`\\pL`, a group of alternatives) counts 1, times its repetition count; a loop over one (`.*`, `[a-z]+`)
counts 1, since it can stay active through any text. Literal characters, and loops over them, are free.

Read by a small recursive descent over RE2's syntax (the pattern already compiled, so well formed)."""

from __future__ import annotations

import re

_ESCAPE_WIDE = set("dDwWsSpPC")
_ZERO_WIDTH = set("bBAz")
_COUNT = re.compile(r"\{(\d+)(?:(,)(\d*))?\}")


def weight(text: str) -> int:
    """The pattern's weight (see above); `text` is one RE2 already compiled."""
    total, alternatives = _Weigher(text).alternation()
    return max(1, total) if alternatives else total


class _Weigher:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.n = len(text)

    def alternation(self) -> tuple[int, bool]:
        branches = [self.sequence()]
        while self.pos < self.n and self.text[self.pos] == "|":
            self.pos += 1
            branches.append(self.sequence())
        return sum(branches), len(branches) > 1

    def sequence(self) -> int:
        total = 0
        while self.pos < self.n and self.text[self.pos] not in "|)":
            cost, literal = self.atom()
            total += self.quantified(cost, literal)
        return total

    def atom(self) -> tuple[int, bool]:
        """(cost, literal): a literal atom and loops over it cost nothing."""
        char = self.text[self.pos]
        if char == "\\":
            return self.escape()
        if char == "[":
            return self.char_class()
        if char == "(":
            return self.group()
        self.pos += 1
        if char == ".":
            return 1, False
        return 0, True  # a literal, or ^ $

    def escape(self) -> tuple[int, bool]:
        text, pos, n = self.text, self.pos, self.n
        nxt = text[pos + 1] if pos + 1 < n else ""
        if nxt == "Q":  # \Q...\E: a literal run
            end = text.find("\\E", pos + 2)
            self.pos = n if end < 0 else end + 2
            return 0, True
        if nxt in "pP" and pos + 2 < n and text[pos + 2] == "{":
            self.pos = text.index("}", pos) + 1
            return 1, False
        if nxt == "x" and pos + 2 < n and text[pos + 2] == "{":
            self.pos = text.index("}", pos) + 1
            return 0, True
        self.pos += 3 if nxt in "pP" else 4 if nxt == "x" else 2
        if nxt in _ZERO_WIDTH:
            return 0, True
        return (1, False) if nxt in _ESCAPE_WIDE else (0, True)

    def char_class(self) -> tuple[int, bool]:
        text, n = self.text, self.n
        self.pos += 1
        if self.pos < n and text[self.pos] == "^":
            self.pos += 1
        if self.pos < n and text[self.pos] == "]":
            self.pos += 1
        while self.pos < n and text[self.pos] != "]":
            if text[self.pos] == "\\":
                self.pos += 2
            elif text.startswith("[:", self.pos):
                self.pos = text.index(":]", self.pos) + 2
            else:
                self.pos += 1
        self.pos += 1
        return 1, False

    def group(self) -> tuple[int, bool]:
        text, n = self.text, self.n
        self.pos += 1
        if text.startswith("?", self.pos):
            close = self.pos
            while close < n and text[close] not in ":)":
                close += 1
            named = text.startswith("?P<", self.pos) or text.startswith("?<", self.pos)
            if close < n and text[close] == ")" and not named:
                self.pos = close + 1  # flags alone, such as (?i)
                return 0, True
            self.pos = close + 1 if text[close] == ":" else text.index(">", self.pos) + 1
        inner, alternatives = self.alternation()
        self.pos += 1  # the closing )
        if alternatives:
            return max(1, inner), False
        return inner, inner == 0

    def quantified(self, cost: int, literal: bool) -> int:
        text, n = self.text, self.n
        loop = 0 if literal else max(1, cost)
        if self.pos >= n:
            return cost
        char = text[self.pos]
        if char in "*+?":
            self.pos += 1
            if self.pos < n and text[self.pos] == "?":
                self.pos += 1  # lazy
            return cost if char == "?" else loop
        counted = _COUNT.match(text, self.pos)
        if counted is None:
            return cost
        self.pos = counted.end()
        if self.pos < n and text[self.pos] == "?":
            self.pos += 1
        low = int(counted[1])
        if counted[2] is None:
            return low * cost
        return low * cost + loop if not counted[3] else int(counted[3]) * cost
