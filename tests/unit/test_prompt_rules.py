"""The prompt-rule engine (bot/moderation): pure functions, no fakes needed."""

from __future__ import annotations

import ast
import logging
import os
import random
import subprocess
import sys
import time
import tomllib
from collections.abc import Sequence
from pathlib import Path

import pytest

from bot.moderation import (
    MAX_PATTERN_CHARS,
    MAX_WORD_CHARS,
    BadPattern,
    BadWord,
    PromptRules,
    Rule,
    check_pattern,
    check_word,
)
from bot.moderation.builtin import builtin_terms
from bot.moderation.normalize import _WORD, normalize, spans, split, words
from bot.moderation.patterns import check_new_pattern, weight
from bot.moderation.words import WordList

ROOT = Path(__file__).resolve().parents[2]
TERMS = builtin_terms()
NO_RULES = PromptRules.build([], [])


def server(blocked_words: Sequence[str] = (), patterns: Sequence[str] = ()) -> PromptRules:
    return PromptRules.build(blocked_words, patterns)


def everything_off(rules: PromptRules, prompt: str):
    """An age-restricted channel in a server that turned the mild filter off."""
    return rules.check(prompt, age_restricted=True, mild_filter=False)


def sfw(rules: PromptRules, prompt: str):
    """An ordinary channel with the mild filter on (the default)."""
    return rules.check(prompt, age_restricted=False, mild_filter=True)


# --- normalization -------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ("Ｎ\u200bＵＤＥ", "nude"),  # full-width letters with a zero-width space between
    ("NUDE", "nude"),
    ("n\u200cu\u200dd\u2060e\ufeff", "nude"),  # zero-width non-joiner, joiner, word joiner, BOM
    ("n\u00adu\u034fd\u180ee", "nude"),  # soft hyphen, combining grapheme joiner, Mongolian vowel separator
    ("\u202enude\u202c \u2066x\u2069 \u200eq\u200f \u061cz", "nude x q z"),  # bidi controls
    ("n\ufe0fude", "nude"),  # a variation selector
    ("Straße", "strasse"),  # case folding, not lower()
    ("ﬁne", "fine"),  # NFKC: compatibility ligature
])
def test_normalize(text: str, expected: str) -> None:
    assert normalize(text) == expected


def test_a_joiner_between_letter_and_accent_does_not_block_composition() -> None:
    assert normalize("cafe\u200b\u0301") == normalize("café")


@pytest.mark.parametrize(("text", "expected"), [
    ("a BIG   cat!", ["a", "big", "cat"]),
    ("child's toy", ["child", "s", "toy"]),  # apostrophes separate words
    ("don’t", ["don", "t"]),
    ("1girl, sd3, 12yo", ["1", "girl", "sd", "3", "12", "yo"]),  # digit runs are words of their own
    ("nude_art", ["nude", "art"]),  # the underscore separates
    ("big-cat", ["big", "cat"]),
    ("बच्चा खेल", ["बच्चा", "खेल"]),  # combining vowel signs and virama stay inside the word
    ("𑀓𑀸 x", ["𑀓𑀸", "x"]),  # an astral (Brahmi) letter and its vowel sign
    ("a fox 🦊 in snow", ["a", "fox", "in", "snow"]),
    ("", []),
    ("!!! ...", []),
])
def test_words(text: str, expected: list[str]) -> None:
    assert words(text) == expected


def test_the_ascii_shortcut_splits_like_the_general_rule() -> None:
    rng = random.Random(3)
    for _ in range(200):
        text = normalize("".join(rng.choice("aZ09_- '.,!\t") for _ in range(rng.randint(0, 40))))
        assert split(text) == _WORD.findall(text), text
        assert [text[a:b] for a, b in spans(text)] == split(text)


# --- blocked words -------------------------------------------------------------------------------

def test_whole_words_only() -> None:
    rules = server(["ass"])
    assert sfw(rules, "class photo") is None
    assert sfw(rules, "a passing glass") is None
    hit = sfw(rules, "kick ass")
    assert hit is not None and hit.rule is Rule.SERVER_WORD and hit.term == "ass" and hit.matched == "ass"


@pytest.mark.parametrize(("prompt", "refused"), [
    ("a BIG   cat!", True),
    ("big cat", True),
    ("Big-Cat", True),
    ("bigcat", False),
    ("big catalog", False),
    ("a big, fluffy cat", False),
    ("cat big", False),
])
def test_phrase_as_whole_words_in_sequence(prompt: str, refused: bool) -> None:
    hit = sfw(server(["big cat"]), prompt)
    assert (hit is not None) is refused
    if hit is not None:
        assert hit.term == "big cat"


def test_the_prompts_own_text_is_quoted_and_the_configured_term_returned() -> None:
    hit = sfw(server(["Big Cat"]), "a BIG   cat!")
    assert hit is not None
    assert (hit.term, hit.matched) == ("Big Cat", "big   cat")
    assert hit.sentence == "Your prompt uses `Big Cat`, which this server has blocked."
    assert hit.appealable


@pytest.mark.parametrize("prompt", ["ＮＵＤＥ beach", "N\u200bU\u200dD\u2060E beach", "NuDe beach", "nu\u00adde beach"])
def test_words_match_after_normalizing_the_prompt(prompt: str) -> None:
    hit = everything_off(server(["nude"]), prompt)
    assert hit is not None and hit.rule is Rule.SERVER_WORD and hit.term == "nude"


def test_words_match_after_normalizing_the_term() -> None:
    hit = everything_off(server(["ＢＩＧ\u200b  Cat"]), "big cat")
    assert hit is not None and hit.term == "ＢＩＧ\u200b  Cat"


def test_overlapping_phrases_fall_back_to_the_shorter_one() -> None:
    # Aho-Corasick's failure links: "a b" is read while looking for "a b c", then "b d" must be found.
    wl = WordList(["a b c", "b d", "cat food"])
    hit = wl.find(words("x a b d"))
    assert hit is not None and (hit.term, hit.first, hit.last) == ("b d", 2, 3)
    hit = wl.find(words("a b a b c"))
    assert hit is not None and (hit.term, hit.first, hit.last) == ("a b c", 2, 4)
    assert wl.find(words("a b x c d")) is None


def _naive(terms: list[str], prompt: list[str]) -> dict[str, int]:
    """Each term found in the prompt, with where its first occurrence ends."""
    ends: dict[str, int] = {}
    for term in terms:
        key = words(term)
        for i in range(len(prompt) - len(key) + 1):
            if prompt[i:i + len(key)] == key:
                ends.setdefault(term, i + len(key) - 1)
                break
    return ends


def test_word_list_agrees_with_a_naive_search() -> None:
    rng = random.Random(7)
    vocabulary = ["a", "b", "c", "d"]
    for _ in range(2000):
        terms = [" ".join(rng.choices(vocabulary, k=rng.randint(1, 4))) for _ in range(rng.randint(1, 4))]
        prompt = rng.choices(vocabulary + ["x"], k=rng.randint(0, 12))
        ends = _naive(terms, prompt)
        hit = WordList(terms).find(prompt)
        if not ends:
            assert hit is None, (terms, prompt)
            continue
        # The automaton reports the match that ends first in the prompt.
        assert hit is not None and hit.last == min(ends.values()), (terms, prompt, hit)
        assert hit.term in ends and prompt[hit.first:hit.last + 1] == words(hit.term), (terms, prompt, hit)


def _reading_every_word(wl: WordList, text: str) -> tuple[str, int, int] | None:
    """What the screen and `find_from` must give: the automaton on every one of the text's words."""
    hit = wl.find(split(text))
    if hit is None:
        return None
    where = spans(text)
    return hit.term, where[hit.first][0], where[hit.last][1]


@pytest.mark.parametrize("exact", [True, False], ids=["phrase-screen", "first-word-screen"])
def test_the_word_screen_finds_what_reading_every_word_finds(monkeypatch: pytest.MonkeyPatch, exact: bool) -> None:
    # The screen may only skip text that holds no term, and `find_from` must report the same term at the
    # same place as the automaton on every word: digits glued to letters ("7b", "12yo"), phrases, numbers,
    # terms that are a prefix or a suffix of others, and other scripts next to a term.
    if not exact:  # a list too large for the phrase screen is screened by its first words
        monkeypatch.setattr("bot.moderation.words.SCREEN_MAX_PROGRAM", 0)
    rng = random.Random(11)
    vocabulary = ["a", "b", "ab", "ba", "aab", "7", "12", "yo", "кот"]
    pieces = vocabulary + [" ", " ", ", ", "-", "/", "_", "7", "x", "ж", "\u0301", "1"]
    screened = 0
    for _ in range(3000):
        terms = [" ".join(rng.choices(vocabulary, k=rng.randint(1, 3))) for _ in range(rng.randint(1, 5))]
        wl = WordList(terms)
        assert wl.screen_exact is exact, terms
        text = normalize("".join(rng.choices(pieces, k=rng.randint(0, 24))))
        expected = _reading_every_word(wl, text)
        place = wl.screen(text.encode())
        if place is None:
            screened += 1
            assert expected is None, (terms, text)
            continue
        if text.isascii():
            assert wl.find_from(text, place) == expected, (terms, text)
    assert screened > 300  # most random texts hold none of the terms and are never split


def test_a_large_tree_of_phrases_is_screened_by_first_words() -> None:
    # 500 phrases of up to 30 words made of two letters: written as one tree they would take RE2 about a
    # millisecond a search, so their first words are screened instead (and the automaton reads on).
    rng = random.Random(3)
    terms = [" ".join("".join(rng.choices("ab", k=rng.randint(1, 2))) for _ in range(rng.randint(1, 30))) + " zz"
             for _ in range(500)]
    wl = WordList([t[:MAX_WORD_CHARS] for t in terms])
    assert not wl.screen_exact
    text = " ".join("".join(rng.choices("ab", k=rng.randint(1, 2))) for _ in range(400))
    assert wl.screen(text.encode()) is not None and wl.find_from(text, 0) is None
    from bot.moderation.builtin import builtin_lists
    assert builtin_lists().minors.screen_exact, "the built-in lists keep the exact screen"


def test_many_phrases_with_one_start_against_a_long_near_miss_stays_fast() -> None:
    # Terms x prompt would be 500 x 750 phrase comparisons here; the automaton reads each word once.
    terms = [" ".join(["w"] * 40 + [f"end{i}"]) for i in range(500)]
    rules = server(terms)
    prompt = " ".join(["w"] * 749)
    start = time.perf_counter()
    assert sfw(rules, prompt) is None
    assert time.perf_counter() - start < 0.05


@pytest.mark.parametrize(("term", "reason"), [
    ("", "it is empty"),
    ("   ", "it is empty"),
    ("x" * (MAX_WORD_CHARS + 1), f"it is {MAX_WORD_CHARS + 1} characters long, and the limit is {MAX_WORD_CHARS}"),
    ("!!!", "it has no letters or digits, and only whole words are matched"),
    ("🙂", "it has no letters or digits, and only whole words are matched"),
])
def test_check_word_refuses(term: str, reason: str) -> None:
    with pytest.raises(BadWord) as caught:
        check_word(term)
    assert caught.value.reason == reason


def test_check_word_gives_one_key_for_spellings_of_one_phrase() -> None:
    assert check_word("  Big   CAT ") == check_word("big cat") == "big cat"
    assert check_word("x" * MAX_WORD_CHARS) == "x" * MAX_WORD_CHARS


# --- blocked patterns ----------------------------------------------------------------------------

@pytest.mark.parametrize(("pattern", "reason"), [
    ("(a", "missing ) in `(a`"),
    ("a**", "bad repetition operator in `**`"),
    ("[z-a]", "invalid character class range in `z-a`"),
    ("a{1001}", "invalid repetition size in `{1001}`"),
    ("(?<!x)y", "invalid perl operator in `(?<!`"),  # lookbehind: RE2 has no backtracking features
    (r"\pL{200}", "it is too large for the pattern engine's memory limit"),
    ("", "it is empty"),
    ("a*", "it can match empty text, so it would block prompts that contain nothing it names"),
])
def test_invalid_patterns_are_refused_with_the_engines_reason(pattern: str, reason: str, capfd) -> None:
    with pytest.raises(BadPattern) as caught:
        check_pattern(pattern)
    assert caught.value.reason == reason
    out, err = capfd.readouterr()
    assert (out, err) == ("", "")  # log_errors off: RE2 prints nothing of its own


def test_over_long_patterns_are_refused() -> None:
    check_pattern("a" * MAX_PATTERN_CHARS)
    with pytest.raises(BadPattern) as caught:
        check_pattern("a" * (MAX_PATTERN_CHARS + 1))
    assert caught.value.reason == f"it is {MAX_PATTERN_CHARS + 1} characters long, and the limit is {MAX_PATTERN_CHARS}"


def test_patterns_too_complex_for_a_quick_check_are_refused() -> None:
    with pytest.raises(BadPattern) as caught:
        check_pattern("(.{100}){9}x")
    assert "too complex" in caught.value.reason
    check_pattern(r"\pL+z")  # Unicode classes are large but well inside the limit


def test_patterns_match_case_insensitively_against_the_normalized_prompt() -> None:
    rules = server(patterns=["NUDE", r"fo+ba[rz]"])
    hit = everything_off(rules, "Ｎ\u200bＵＤＥ")
    assert hit is not None and (hit.rule, hit.term, hit.matched) == (Rule.SERVER_PATTERN, "NUDE", "nude")
    hit = everything_off(rules, "a FOOOBAZ here")
    assert hit is not None and (hit.term, hit.matched) == (r"fo+ba[rz]", "fooobaz")
    assert hit.sentence == "Your prompt matches the pattern `fo+ba[rz]` (at `fooobaz`), which this server has blocked."
    assert hit.appealable
    assert everything_off(rules, "a fbar foobaa") is None


def test_patterns_quote_non_ascii_matches_whole() -> None:
    hit = everything_off(server(patterns=["сн.г", "zzz"]), "Кот в СНЕГУ")
    assert hit is not None and (hit.term, hit.matched) == ("сн.г", "снег")


@pytest.mark.parametrize("patterns", [["zzz", "b{2}", "a+"], ["b{2}", "a{1,}"], ["zzz", r"x\{2\}", "b{2}"]])
def test_counted_repetitions_searched_on_their_own_are_found_in_configured_order(patterns: list[str]) -> None:
    rules = server(patterns=patterns)
    hit = everything_off(rules, "a bb")
    assert hit is not None and hit.term == next(p for p in patterns if p.startswith(("a", "b")))
    assert everything_off(rules, "b c") is None


def test_the_first_configured_pattern_that_matches_is_named() -> None:
    rules = server(patterns=["zzz", "b+", "a+"])
    hit = everything_off(rules, "aaa bbb")
    assert hit is not None and (hit.term, hit.matched) == ("b+", "bbb")


def test_an_open_literal_quote_does_not_swallow_the_other_patterns() -> None:
    rules = server(patterns=[r"\Qa+b", "zzz"])
    assert len(rules.patterns._searches) == 1 and not rules.patterns.split  # one search for both, its quote closed
    hit = everything_off(rules, "x a+b y")
    assert hit is not None and (hit.term, hit.matched) == (r"\Qa+b", "a+b")
    hit = everything_off(rules, "zzz")
    assert hit is not None and hit.term == "zzz"
    assert everything_off(rules, "aab") is None


@pytest.mark.parametrize("pattern", [r"(a+)+$", r"(x+x+)+y", r"(.*a){20}$!", r"(a|aa)+$", r"(a|a?)+b"])
def test_hostile_patterns_are_answered_at_once(pattern: str) -> None:
    rules = server(patterns=[pattern])
    prompt = "a" * 1500 + "!"
    rules.check(prompt, age_restricted=False, mild_filter=True)  # the first search builds RE2's DFA
    start = time.perf_counter()
    result = rules.check(prompt, age_restricted=False, mild_filter=True)
    elapsed = time.perf_counter() - start
    assert result is None or result.rule is Rule.SERVER_PATTERN
    assert elapsed < 0.05, f"{pattern}: {elapsed * 1000:.1f} ms"  # bench/moderation.py measures the real figure


def test_a_a_plus_dollar_against_1500_as_then_a_bang_cold() -> None:
    start = time.perf_counter()
    rules = server(patterns=[r"(a+)+$"])
    assert sfw(rules, "a" * 1500 + "!") is None
    assert sfw(rules, "a" * 1500) is not None
    assert time.perf_counter() - start < 0.05


def test_stored_rows_that_no_longer_pass_are_skipped_and_logged(caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="bot.moderation"):
        rules = PromptRules.build(["ok", "!!!", "x" * 200], ["(a", "b+c", "a" * 300])
    assert rules.words.terms == ["ok"]
    assert rules.patterns.texts == ["b+c"]
    messages = [r.getMessage() for r in caplog.records]
    assert any("missing ) in `(a`" in m for m in messages)
    assert any("300 characters long" in m for m in messages)
    assert any("no letters or digits" in m for m in messages)
    assert all(r.levelno == logging.WARNING and r.exc_info is None for r in caplog.records)
    assert everything_off(rules, "abbc") is not None


# --- the built-in rules --------------------------------------------------------------------------

@pytest.mark.parametrize("term", TERMS.minors)
def test_each_minor_term_with_a_sexual_term_is_refused_everywhere(term: str) -> None:
    hit = everything_off(NO_RULES, f"a {term.upper()} nude, high detail")
    assert hit is not None and hit.rule is Rule.MINOR_SAFETY
    assert (hit.term, hit.paired_term) == (term, "nude")
    assert not hit.appealable


@pytest.mark.parametrize("term", TERMS.minors)
def test_each_minor_term_alone_passes(term: str) -> None:
    assert sfw(NO_RULES, f"a {term} playing in a park") is None


@pytest.mark.parametrize("term", TERMS.sexual)
def test_each_sexual_term_with_a_minor_term_is_refused(term: str) -> None:
    hit = everything_off(NO_RULES, f"{term} photo of a child")
    assert hit is not None and hit.rule is Rule.MINOR_SAFETY
    assert (hit.term, hit.paired_term) == ("child", term)


@pytest.mark.parametrize("term", TERMS.sexual)
def test_each_sexual_term_without_a_minor_passes_in_an_age_restricted_channel(term: str) -> None:
    assert everything_off(NO_RULES, f"{term} photo of a woman") is None


@pytest.mark.parametrize("term", TERMS.explicit)
def test_each_explicit_term_is_kept_out_of_ordinary_channels_only(term: str) -> None:
    hit = sfw(NO_RULES, f"a {term} statue")
    assert hit is not None and hit.rule is Rule.MILD_FILTER and hit.term == term
    assert hit.sentence == f"Explicit terms like `{term}` can only be used in age-restricted channels."
    assert not hit.appealable
    assert NO_RULES.check(f"a {term} statue", age_restricted=True, mild_filter=True) is None
    assert NO_RULES.check(f"a {term} statue", age_restricted=False, mild_filter=False) is None


def test_the_terms_file_is_normalized_and_has_no_duplicates() -> None:
    for name in ("minors", "sexual", "explicit"):
        terms = getattr(TERMS, name)
        assert terms, name
        assert len(set(terms)) == len(terms), name
        for term in terms:
            assert " ".join(words(term)) == term, (name, term)


@pytest.mark.parametrize("prompt", [
    "a child playing in a park",
    "class photo",
    "kids at a birthday party, balloons",
    "a teenager skateboarding",
    "sexy woman in a red dress",  # adult, and "sexy" is not explicit
    "Essex countryside, Sussex coast",
    "a sextant on a ship's deck",
    "analysis of a pussycat's behaviour",
    "nudibranch on coral",
    "Moby Dick, a cocktail at sunset",
    "a baby elephant",
])
def test_ordinary_prompts_pass_with_the_filter_on(prompt: str) -> None:
    assert sfw(NO_RULES, prompt) is None


@pytest.mark.parametrize(("prompt", "minor", "sexual"), [
    ("nude child", "child", "nude"),
    ("NAKED   KIDS on a beach", "kids", "naked"),
    ("ｃｈｉｌｄ\u200b ｎ\u200dｕｄｅ", "child", "nude"),
    ("12yo, lewd", "12 yo", "lewd"),
    ("a 15-year-old in lingerie", "15 year old", "lingerie"),
    ("schoolgirl uniform, sexy", "schoolgirl", "sexy"),
    ("a teen-aged girl, topless", "teen", "topless"),
    ("child's body, nsfw", "child", "nsfw"),
    ("loli hentai", "loli", "hentai"),
    ("little girl, r-18", "little girl", "r 18"),
])
def test_minor_safety_refuses_in_an_age_restricted_channel_with_every_filter_off(prompt: str, minor: str, sexual: str) -> None:
    hit = everything_off(NO_RULES, prompt)
    assert hit is not None and hit.rule is Rule.MINOR_SAFETY
    assert (hit.term, hit.paired_term) == (minor, sexual)
    assert hit.sentence == f"This bot never makes sexual images involving minors (`{minor}` with `{sexual}`)."


def test_a_15_year_old_is_not_a_5_year_old_and_a_30_year_old_passes() -> None:
    hit = everything_off(NO_RULES, "a 15 year old, nude")
    assert hit is not None and hit.term == "15 year old"
    assert everything_off(NO_RULES, "a 30 year old, nude") is None


# --- the order of the rules ----------------------------------------------------------------------

def test_rules_apply_in_order_minor_safety_words_patterns_mild_filter() -> None:
    rules = server(["nude", "dragon"], ["drag.n", "beach"])
    assert sfw(rules, "nude child").rule is Rule.MINOR_SAFETY  # type: ignore[union-attr]
    assert sfw(rules, "nude dragon").rule is Rule.SERVER_WORD  # type: ignore[union-attr]
    assert sfw(rules, "naked dragon").rule is Rule.SERVER_WORD  # type: ignore[union-attr]
    assert sfw(rules, "naked on a beach").rule is Rule.SERVER_PATTERN  # type: ignore[union-attr]
    assert sfw(rules, "naked statue").rule is Rule.MILD_FILTER  # type: ignore[union-attr]
    assert everything_off(rules, "naked statue") is None


# --- packaging and layering ----------------------------------------------------------------------

def test_the_terms_file_ships_with_the_package() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "*.toml" in pyproject["tool"]["setuptools"]["package-data"]["bot.moderation"]
    assert (ROOT / "bot" / "moderation" / "builtin_terms.toml").is_file()


def test_moderation_imports_neither_discord_nor_the_store() -> None:
    for path in (ROOT / "bot" / "moderation").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            for name in names:
                assert not name.startswith(("discord", "bot.storage", "bot.services", "cogs")), (path.name, name)


# -- /config patterns add: decided from the pattern, never from a clock ----------------------------------


@pytest.mark.parametrize("pattern", [r"[ab]*a[ab]{15}z", r"a.{20}b!", r".{150}zq", r"(.*a){20}$",
                                     r"[ab]*a" + "[ab]" * 9 + "z", r"(?:a|b){9}x"])
def test_a_new_pattern_whose_dfa_could_blow_up_is_refused(pattern):
    check_pattern(pattern)  # a stored one still loads: refusing is for new patterns only
    with pytest.raises(BadPattern, match="too complex to check quickly"):
        check_new_pattern(pattern)


@pytest.mark.parametrize(("pattern", "expected"), [
    (r"lim07x+q", 0), (r"(a+)+$", 0), (r"(x+x+)+y", 0), (r"\bfoo\b", 0), (r"a{20}", 0), (r"\Qa+b", 0),
    (r"forbid1[0-9]+x", 1), (r"dragon\w*", 1), (r"(?i)evil\s*thing12", 1), (r"alt1|alt2|alt3", 1),
    (r"(a|aa)+$", 1), (r"(\pL|\pN)+qq$", 2), (r"\d{3}-\d{4}", 7), (r"a.{8}b", 8), (r"[[:alpha:]]{3}", 3),
    (r"[]a]{2}", 2), (r"x.{2,}", 3), (r"(.*.*.*.*.*)*!z", 5), (r"(.*a){20}$", 20), (r"\p{Greek}+x", 1),
])
def test_the_weight_of_a_pattern(pattern, expected):
    assert weight(pattern) == expected


def test_the_issues_hostile_patterns_are_admitted_together():
    admitted: list[str] = []
    for pattern in (r"(a+)+$", r"(x+x+)+y", r"(a|aa)+$", r"(a|a?)+b$", r"(.*.*.*.*.*)*!z", r"dragon\w*", r"\bfoo\b"):
        check_new_pattern(pattern, admitted)
        admitted.append(pattern)


def test_patterns_each_admitted_are_refused_once_together_they_weigh_too_much():
    family = [rf"[ab]*{x}[ab]{{6}}{end}" for x in "ab" for end in "zyxwvuts"]  # 7 each
    admitted: list[str] = []
    refusals = []
    for pattern in family:
        try:
            check_new_pattern(pattern, admitted)
            admitted.append(pattern)
        except BadPattern as e:
            refusals.append(str(e))
    assert len(admitted) == 9, "9 x 7 = 63 fits the server's 64"
    assert refusals and all("weight 70 together, and the limit is 64" in r for r in refusals)


HARMLESS_PATTERNS = [rf"forbid{i}[0-9]+x" for i in range(15)] + [rf"(?i)evil\s*thing{i}" for i in range(15)] + [
    r"lim07x+q", r"\bfoo\b", r"spam{2,}", r"b+u+y+ ?n+o+w+", r"free\s+nitro", r"discord\.gg/\w+",
    r"(?i)click here", r"\d{4}-\d{2}", r"n[i1!]ce ?try", r"(cheap|free) (pills|meds)", r"\bbad ?word\b",
    r"qq+", r"x{3}y", r"zz[0-9]", r"(?:foo|bar)baz", r"win a prize", r"crypto ?giveaway", r"@everyone",
    r"hxxp", r"\bdarn\b"]


def test_fifty_harmless_patterns_are_all_accepted_on_a_saturated_cpu():
    assert len(HARMLESS_PATTERNS) == 50
    spinner = "import os, time\nend = time.time() + 60\nwhile time.time() < end: pass\n"
    spinners = [subprocess.Popen([sys.executable, "-c", spinner]) for _ in range(os.cpu_count() or 2)]
    try:
        for attempt in range(2):  # the same verdicts twice: nothing depends on the machine or the moment
            admitted: list[str] = []
            for pattern in HARMLESS_PATTERNS:
                check_new_pattern(pattern, admitted)
                admitted.append(pattern)
            assert len(admitted) == 50, attempt
    finally:
        for process in spinners:
            process.kill()
            process.wait()


def test_admission_reads_no_clock(monkeypatch):
    # However slow the machine (here every clock reading a second after the last), the verdicts stand.
    ticks = iter(range(10**9))
    monkeypatch.setattr(time, "perf_counter", lambda: float(next(ticks)))
    monkeypatch.setattr(time, "monotonic", lambda: float(next(ticks)))
    admitted: list[str] = []
    for pattern in HARMLESS_PATTERNS:
        check_new_pattern(pattern, admitted)
        admitted.append(pattern)
    with pytest.raises(BadPattern, match="too complex"):
        check_new_pattern(r"a.{20}b!", admitted)
