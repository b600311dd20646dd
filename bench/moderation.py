"""Prompt-check latency: one `PromptRules.check` with 200 blocked words/phrases and 50 patterns.

The configuration mixes plain words, phrases that share their first words, and hostile patterns
(`(a+)+$`, `(x+x+)+y`, `(.*a){20}`, long alternations, bounded repetitions that blow up a DFA).
Prompts are adversarial, each 1,500 characters: long runs of `a` (with and without the `!` that
defeats `(a+)+$`), near-misses of every configured word, zero-width characters between every letter,
full-width text, one 1,500-character word, random `a`/`b` text (new DFA states on every prompt),
mixed-script text, and ordinary prompts. Ordinary and near-miss prompts pass; the others are built
to be refused or to almost match. Each prompt is checked in an ordinary channel with the mild
filter on (every rule runs) and, separately, in an age-restricted one.

Configurations: the issue's hostile patterns; the same plus three counted repetitions
(`[ab]*a[ab]{15}z`, `a.{20}b!`, `.{150}zq`) that are hostile to RE2 itself (see PatternList), as
the engine would run them; the same as `/config patterns add` admits them; and the worst that
`/config patterns add` admits (patterns.check_new_pattern decides from each pattern's weight, never
from a clock): eight DFA-hostile patterns of the largest weight one may have (8), which use up the
server's whole weight (64), and 42 weightless ones of up to 200 characters.

Prompts also include writing tricks (leetspeak, letters spelled apart, look-alike letters, spelled-out
ages), which make the rules read the prompt several ways (bot/moderation/skeleton.py): a few such
prompts, and prompts made anew for each check whose every word is a different trick.

The rules keep each chunk's readings (the text between two spaces) for the next prompts, so each
configuration is measured twice: with every prompt seen once before (its chunks known), and with the
kept chunks forgotten before each check (a prompt never seen, in a bot that has seen nothing). For
each it prints the build (compile) time, then per prompt kind p50, p99 and max in microseconds of one
check's wall-clock time, and p50 and p99 of the CPU time the check's thread used (time.thread_time):
wall-clock time counts whatever else the machine runs, CPU time does not. The load average is printed
before and after. Target: p99 <= 1 ms for every kind.

Run from the repository root:

    python -m bench.moderation              # 5,000 checks per configuration
    python bench/moderation.py --checks 20000 --config issue --seed 3
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import string
import sys
import time
from collections import defaultdict
from pathlib import Path

if __package__ in (None, ""):  # `python bench/moderation.py`: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.moderation import PromptRules  # noqa: E402
from bot.moderation.patterns import BadPattern, check_new_pattern, weight  # noqa: E402
from bot.moderation.readings import forget_chunks  # noqa: E402

TARGET_P99_US = 1000
PROMPT_CHARS = 1500
ZW = "\u200b"


def configured_words(rng: random.Random) -> list[str]:
    def word() -> str:  # letters only: a digit would be a word of its own (see bot/moderation/normalize.py)
        return "".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(4, 10)))

    words = [word() for _ in range(120)]
    words += [f"dark phrase {word()}" for _ in range(40)]  # 40 phrases sharing their first two words
    words += [" ".join(word() for _ in range(rng.randint(2, 6))) for _ in range(40)]
    return words


# The issue's hostile patterns (catastrophic for a backtracking engine, harmless to RE2) and long
# alternations.
ISSUE_HOSTILE = [
    r"(a+)+$", r"(x+x+)+y", r"(.*a){20}$", r"(a|aa)+$", r"(a|a?)+b$", r"(.*.*.*.*.*)*!z",
    r"(\pL|\pN)+qq$",
    "|".join(f"alt{i}" for i in range(35)),  # long alternations (199 and 178 characters)
    "(" + "|".join(f"a{'b' * (i % 7)}c" for i in range(30)) + ")+x",
]
# Hostile to RE2 itself: counting multiplies DFA states (2^15 for the first), so on random a/b text
# RE2 falls back to its NFA, linear but with a large constant.
COUNTING_HOSTILE = [r"[ab]*a[ab]{15}z", r"a.{20}b!", r".{150}zq"]


def configured_patterns(counting: bool, *, admitted: bool = False) -> list[str]:
    """50 patterns; `admitted`: only those `/config patterns add` accepts, added one after another."""
    hostile = ISSUE_HOSTILE + (COUNTING_HOSTILE if counting else [])
    plain = [f"forbid{i}[0-9]+x" for i in range(30)] + [f"(?i)evil\\s*thing{i}" for i in range(30)]
    candidates = hostile + plain
    assert all(len(p) <= 200 for p in candidates), [len(p) for p in candidates]
    if not admitted:
        return candidates[:50]
    patterns: list[str] = []
    for pattern in candidates:
        if len(patterns) == 50:
            break
        try:
            check_new_pattern(pattern, patterns)
        except BadPattern as e:
            print(f"/config patterns add refuses {pattern!r}: {e}")
            continue
        patterns.append(pattern)
    return patterns


# The worst /config patterns add admits: DFA-hostile shapes at the largest weight (8) one pattern may
# have, using the server's whole weight (64) between them, then weightless patterns up to the length limit.
WORST_HOSTILE = [r"[ab]*a[ab]{7}z", r"a.{8}b!", r".{8}zq", r"[ab]*b[ab]{7}y", r"(?:a|b)*a(?:a|b){7}x",
                 r"\w*x\w{7}q", r"[^z]*a[^z]{7}!", r"[ab]*a" + "[ab]" * 7 + "w"]
WORST_LIGHT = [r"(a+)+$", r"(x+x+)+y", r"(a+b+)+c$"] + [
    (f"forbidden phrase number {i} " * 12)[:196] + "x+y" for i in range(39)]


def worst_admitted() -> list[str]:
    patterns: list[str] = []
    for pattern in WORST_HOSTILE + WORST_LIGHT:
        check_new_pattern(pattern, patterns)  # raises if /config would refuse it: then it is not the worst admitted
        patterns.append(pattern)
    assert len(patterns) == 50 and sum(weight(p) for p in patterns) == 64
    return patterns


def prompts(rng: random.Random, words: list[str]) -> dict[str, list[str]]:
    def cap(text: str) -> str:
        # Ends in "." so that the `...$` patterns do not refuse ordinary text by its last letter.
        return (text * (PROMPT_CHARS // max(1, len(text)) + 1))[:PROMPT_CHARS - 1] + "."

    near = [w[:-1] + ("x" if w[-1] != "x" else "y") for w in words]  # every word, its last letter off
    kinds: dict[str, list[str]] = {
        "a-run": ["a" * PROMPT_CHARS, "a" * (PROMPT_CHARS - 1) + "!"],
        "near-miss": [cap(" ".join(rng.sample(near, len(near)))) for _ in range(8)],
        "zero-width": [cap(ZW.join("a portrait of a dark phrase near blockword in the rain ")) for _ in range(1)]
        + [ZW.join(cap("dark phrase qqq "))[:PROMPT_CHARS]],
        "full-width": [cap("ａ ｐｏｒｔｒａｉｔ ｏｆ ａ ｆｏｘ ｉｎ ｓｎｏｗ "), cap("ＡＢＡＢＡＢ")],
        "one-word": ["".join(rng.choice("abcdefghij") for _ in range(PROMPT_CHARS)), "z" * PROMPT_CHARS],
        # Random a/b text: new DFA states at every character for the counting patterns. Ending in a
        # letter, the `...$` patterns match (a refusal, after every pattern was tried); ending in ".",
        # nothing matches and every pattern reads all of it.
        "random-ab": ["".join(rng.choice("ab") for _ in range(PROMPT_CHARS)) for _ in range(25)],
        "random-ab.": ["".join(rng.choice("ab") for _ in range(PROMPT_CHARS - 1)) + "." for _ in range(25)],
        "mixed-script": [cap("кот в снегу, 雪の中の狐, बच्चा खेल रहा है, ")],
        # Every trick the rules undo, all through the prompt: several readings of it each time.
        "tricks": [cap("a ch1ld in a c a s t l e, n.u.d.3 st4tue, tw\u0435lve-year-old, l1ttle g1rl, $ky, "),
                   cap("ɴᴜᴅᴇ? no: a ᴄᴀsᴛʟᴇ at n\u0443ght, p-a-i-n-t-i-n-g of a k!d goat, 12 y/o w1ne, "),
                   cap("🇳🇺🇩🇪 flags, n\u0430ture w4lk, c0ck-tail hour, a b c d e f g, r2-d2 & c-3po, ")],
        "ordinary": [cap("a red fox in snow, highly detailed, 4k, trending on artstation, "),
                     cap("portrait of an old sailor, oil painting, dramatic light, ")],
        # Made anew for each check (see `fresh_tricks`): no chunk is ever seen twice, and every word needs
        # reading some other way. Harder than the issue's prompt: no real prompt is all tricks, none
        # repeated.
        "tricks-fresh": [fresh_tricks(rng)],
    }
    return kinds


_LOOK_ALIKE = {"a": "\u0430", "e": "\u0435", "o": "\u043e", "i": "\u0456", "c": "\u0441", "p": "\u0440",
               "n": "ɴ", "u": "ᴜ", "d": "ᴅ", "t": "ᴛ", "l": "ʟ"}
_LEET = {"a": "4@", "e": "3", "i": "1!|", "o": "0", "s": "5$", "t": "7+", "l": "1|", "g": "9", "b": "8"}


def fresh_tricks(rng: random.Random) -> str:
    """1,500 characters of random words, every one written with a trick: look-alike letters, accents,
    digits and symbols for letters, letters spelled apart with spaces or punctuation."""
    words: list[str] = []
    while sum(len(w) + 1 for w in words) < PROMPT_CHARS:
        word = "".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(3, 8)))
        trick = rng.randrange(4)
        if trick == 0:
            word = "".join(_LOOK_ALIKE.get(c, c) if rng.random() < 0.5 else c for c in word)
        elif trick == 1:
            word = "".join(c + "\u0301" if rng.random() < 0.4 else c for c in word)
        elif trick == 2:
            word = word[0] + "".join(rng.choice(_LEET.get(c, c)) for c in word[1:])
        else:
            word = rng.choice((" ", ".", "-", " . ")).join(word)
        words.append(word + rng.choice(("", ",", "")))
    return " ".join(words)[:PROMPT_CHARS]


def percentile(sorted_values: list[float], q: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f}, {five:.2f}, {fifteen:.2f} ({os.cpu_count()} cores)"


def run(label: str, patterns: list[str], checks: int, seed: int, *, strict: bool = False) -> tuple[float, float]:
    """The configuration's worst p99 over the prompt kinds, wall-clock and CPU, in µs."""
    rng = random.Random(seed)
    words = configured_words(rng)
    start = time.perf_counter()
    rules = PromptRules.build(words, patterns, strict=strict)
    build_ms = (time.perf_counter() - start) * 1000
    assert len(rules.words) == 200 and len(rules.patterns) == 50, (len(rules.words), len(rules.patterns))

    kinds = prompts(rng, words)
    cases = [(kind, p) for kind, ps in kinds.items() for p in ps]
    start = time.perf_counter()  # RE2 builds its automata as it goes: the first check after a change pays
    rules.check(kinds["ordinary"][0], age_restricted=False, mild_filter=True)
    first_us = (time.perf_counter() - start) * 1e6
    print(f"\n== {label}: {len(rules.words)} words/phrases, {len(rules.patterns)} patterns; "
          f"build {build_ms:.1f} ms, first check {first_us:.0f} µs; {checks} checks of {PROMPT_CHARS}-character "
          f"prompts each way; {load()}")
    for _, prompt in cases:  # the process's first look at each character and pattern state is not a check's cost
        rules.check(prompt, age_restricted=False, mild_filter=True)
    worst = (0.0, 0.0)
    for seen in (True, False):
        wall: dict[str, list[float]] = defaultdict(list)
        cpu: dict[str, list[float]] = defaultdict(list)
        refused: dict[str, int] = defaultdict(int)
        for i in range(checks):
            kind, prompt = cases[i % len(cases)]
            if kind.startswith("random-ab"):  # a new prompt every time: no DFA state is reused for free
                prompt = "".join(rng.choice("ab") for _ in range(PROMPT_CHARS - 1)) + prompt[-1]
            elif kind == "tricks-fresh":
                prompt = fresh_tricks(rng)
            if not seen:
                forget_chunks()
            age_restricted = i % 2 == 1
            c0, t0 = time.thread_time_ns(), time.perf_counter_ns()
            result = rules.check(prompt, age_restricted=age_restricted, mild_filter=True)
            t1, c1 = time.perf_counter_ns(), time.thread_time_ns()
            wall[kind].append((t1 - t0) / 1000)
            cpu[kind].append((c1 - c0) / 1000)
            refused[kind] += result is not None
        print("\nprompts seen before (their chunks known):" if seen else
              "\nprompts never seen (the kept chunks forgotten before each check):")
        print(f"{'kind':14} {'checks':>7} {'refused':>8} {'p50 µs':>8} {'p99 µs':>8} {'max µs':>8}"
              f" {'CPU p50':>8} {'CPU p99':>8}")
        for kind in wall:
            s, c = sorted(wall[kind]), sorted(cpu[kind])
            print(f"{kind:14} {len(s):7} {refused[kind]:8} {statistics.median(s):8.0f} {percentile(s, 0.99):8.0f}"
                  f" {s[-1]:8.0f} {statistics.median(c):8.0f} {percentile(c, 0.99):8.0f}")
        every, every_cpu = sorted(t for ts in wall.values() for t in ts), sorted(t for ts in cpu.values() for t in ts)
        print(f"{'all':14} {len(every):7} {sum(refused.values()):8} {statistics.median(every):8.0f} "
              f"{percentile(every, 0.99):8.0f} {every[-1]:8.0f} {statistics.median(every_cpu):8.0f}"
              f" {percentile(every_cpu, 0.99):8.0f}")
        kind_wall = max(percentile(sorted(ts), 0.99) for ts in wall.values())
        kind_cpu = max(percentile(sorted(ts), 0.99) for ts in cpu.values())
        past = [kind for kind in wall if percentile(sorted(cpu[kind]), 0.99) > TARGET_P99_US]
        print(f"worst kind's p99: {kind_wall:.0f} µs wall-clock, {kind_cpu:.0f} µs CPU — target p99 <= "
              f"{TARGET_P99_US} µs: {'met' if kind_wall <= TARGET_P99_US else 'NOT met'} (wall-clock), "
              f"{'met' if kind_cpu <= TARGET_P99_US else 'NOT met'} (CPU)"
              + (f"; CPU p99 past it: {', '.join(past)}" if past else ""))
        worst = (max(worst[0], kind_wall), max(worst[1], kind_cpu))
    print(load())
    return worst


def lone_hostile(checks: int) -> None:
    """The issue's own case: `(a+)+$` alone, against 1,500 `a`s then `!`."""
    rules = PromptRules.build([], [r"(a+)+$"])
    prompt = "a" * PROMPT_CHARS + "!"
    times = []
    for _ in range(checks):
        t0 = time.perf_counter()
        assert rules.check(prompt, age_restricted=False, mild_filter=True) is None
        times.append((time.perf_counter() - t0) * 1e6)
    times.sort()
    print(f"\n== `(a+)+$` alone against {PROMPT_CHARS} `a`s then `!`: {checks} checks, "
          f"p50 {statistics.median(times):.0f} µs, p99 {percentile(times, 0.99):.0f} µs, max {times[-1]:.0f} µs")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checks", type=int, default=5000, help="prompt checks per configuration (default 5,000)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--config", choices=("issue", "counting", "worst", "both"), default="both",
                        help="issue: the issue's hostile patterns; counting: also DFA-hostile counted repetitions; "
                             "worst: the worst /config patterns add admits; both: all of them")
    args = parser.parse_args()
    lone_hostile(args.checks)
    if args.config in ("issue", "both"):
        run("the issue's hostile patterns", configured_patterns(counting=False), args.checks, args.seed)
    if args.config in ("counting", "both"):
        # What the engine does with patterns /config would refuse (they can still be in an old database) ...
        run("plus counted repetitions, unchecked", configured_patterns(counting=True), args.checks, args.seed)
        # ... and what a server can actually configure.
        run("plus counted repetitions, as /config admits them", configured_patterns(counting=True, admitted=True),
            args.checks, args.seed)
    worst = None
    if args.config in ("worst", "both"):
        worst = run("the worst /config patterns add admits, strict words on", worst_admitted(), args.checks, args.seed,
                    strict=True)
    if worst is not None:
        print(f"\nprompt check p99 with the worst admitted configuration, worst prompt kind: {worst[0]:.0f} µs "
              f"wall-clock, {worst[1]:.0f} µs CPU (target {TARGET_P99_US} µs)")


if __name__ == "__main__":
    main()
