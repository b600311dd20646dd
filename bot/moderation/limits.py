"""How much a server may configure, and how much memory a pattern may take: the issue's numbers."""

from __future__ import annotations

MAX_PATTERNS = 50
MAX_PATTERN_CHARS = 200
MAX_WORDS = 500  # blocked words and phrases together
MAX_WORD_CHARS = 100

# RE2 refuses to compile a pattern whose program would not fit, and bounds each compiled pattern's
# lazily built DFA to this much; a search that outgrows it falls back to RE2's NFA, slower but still
# linear and never wrong. 1 MiB is 16 times what the largest 200-character pattern we tried needed.
PATTERN_MAX_MEM = 1 << 20
# All of a server's patterns, searched at once as one alternation (see patterns.py).
COMBINED_MAX_MEM = 8 << 20
# RE2 is linear in the prompt, times the size of the pattern's compiled program when its DFA gives up
# (bounded repetitions like `.{300}x` blow the DFA up): 2,000 instructions keeps that worst case near a
# millisecond on a 1,500-character prompt (`(.{100}){9}x` is 7,205 and took 37 ms; `\pL+` is 1,203).
MAX_PATTERN_PROGRAM = 2000
