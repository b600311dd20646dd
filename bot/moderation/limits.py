"""How much a server may configure (the issue's numbers), and how much a pattern may cost."""

from __future__ import annotations

MAX_PATTERNS = 50
MAX_PATTERN_CHARS = 200
MAX_WORDS = 500  # blocked words and phrases together
MAX_WORD_CHARS = 100
# Not the numbers: enough for any real community, small enough that one server's
# configuration stays one quick query.
MAX_CHANNELS = 100
MAX_ROLES = 50
MAX_BLOCKED = 1000
REASON_MAX = 300  # a block's reason, shown to the member

# RE2 refuses to compile a pattern whose program would not fit, and bounds each compiled pattern's
# lazily built DFA to this much; a search that outgrows it falls back to RE2's NFA, slower but still
# linear and never wrong. A server's 50 patterns then hold at most about 50 MiB plus the alternation's
# 8 MiB; `\pL{100}` (8 characters, a Unicode class repeated) does not fit and is refused.
PATTERN_MAX_MEM = 1 << 20
# All of a server's patterns, searched at once as one alternation (see patterns.py).
COMBINED_MAX_MEM = 8 << 20
# When its DFA gives up, RE2's work per byte grows with the pattern's compiled program: `(.{100}){9}x`
# (7,205 instructions) took 37 ms on a 1,500-character prompt, `.{100}x` (805) 0.25 ms; `\pL+` is 1,203.
# This bounds that factor only; a small counting pattern can still cost ~1 ms (see PatternList).
MAX_PATTERN_PROGRAM = 2000
