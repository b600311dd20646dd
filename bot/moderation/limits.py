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
MAX_PATTERN_PROGRAM = 2000
# /config patterns add decides from the pattern itself, never from a clock (patterns.weight): a `.`,
# class or group of alternatives counts once per repetition, a loop over one counts once. One pattern
# may weigh this much (`[ab]*a[ab]{6}z` is 7, `a.{8}b` is 8; `a.{20}b!` is refused) ...
MAX_PATTERN_WEIGHT = 8
# ... a server's patterns together this much (fifty ordinary patterns weigh 0 or 1 each) ...
MAX_SERVER_WEIGHT = 64
# ... and patterns are searched together in groups of at most this weight, so a check makes at most
# about 2 * MAX_SERVER_WEIGHT / GROUP_MAX_WEIGHT + 1 searches, each over a DFA of bounded size.
GROUP_MAX_WEIGHT = 8
