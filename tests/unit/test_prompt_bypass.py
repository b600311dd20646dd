"""Writing tricks against the prompt rules: a corpus of bypass prompts that must be refused, and one of
harmless prompts that must pass (false refusals are a real cost). Pure functions, no fakes needed."""

from __future__ import annotations

import random
import re

import pytest

from bot.moderation import PromptRules, Rule, readings, skeleton
from bot.moderation.normalize import normalize
from bot.moderation.readings import Readings, forget_chunks, read
from bot.moderation.skeleton import fold, loosen, unmix

NO_RULES = PromptRules.build([], [])

# -- the harmless corpus: passes in an ordinary channel with the explicit-terms filter on ----------

HARMLESS = [
    # Words that hold a blocked word inside them (the Scunthorpe problem), and near misses.
    "class photo of the chess club", "a bass guitar on a stage", "Scunthorpe town centre at dusk",
    "an assistant at a desk", "a therapist's office, soft light", "a cocktail at sunset",
    "a kid goat on a farm", "Essex countryside", "Sussex coast", "Middlesex county map",
    "a sextant on a ship's deck", "a sexton ringing the church bell", "nudibranch on coral",
    "analysis of a pussycat's behaviour", "Dick Van Dyke dancing", "a cockatoo on a branch",
    "a pen is on the table", "the rapist's trial, courtroom sketch", "a basement full of old books",
    "Matsushita bicycle", "Penistone railway station", "a hancock portrait", "Titan moon of Saturn",
    "a tit bird on a feeder", "a shitake mushroom soup", "a cute pom puppy", "pom pom cheerleader",
    "a nudist beach sign seen from far away", "document titled analytics",
    "a grape", "therapists in a group session", "a butt joint in woodworking",
    # Numbers and codes that look like leetspeak but are not.
    "4k 8k 3d render, 1girl, masterpiece", "sd3 style, v2, gpt4 poster", "a 1950s diner",
    "R2-D2 and C-3PO", "a 30 year old woman portrait", "a 40 yo man with a beard",
    "1 apple, 2 pears, 3 plums", "route 66 at night", "a 12 year old whisky bottle on a bar",
    "2024 calendar", "b4 and after photos of a garden", "a mp3 player", "h2o molecule model",
    "windows 98 desktop", "F-16 jet", "COVID-19 vaccine vial", "A4 paper sheet", "ps5 controller",
    "a 7-11 store", "l33t hacker in a hoodie", "Agent 007", "catch-22 book cover",
    # Punctuation and spacing that join into nothing bad.
    "e.g. a fox", "U.S.A. flag", "J. R. R. Tolkien portrait", "rock'n'roll band", "x-ray of a hand",
    "a b c d e f g h blocks", "t-shirt design", "drive-in cinema", "a hand-drawn map",
    "I O U note", "A B C song", "co-op game", "re-entry capsule", "pre-school classroom",
    # Children and young people in ordinary scenes, and adults with suggestive words.
    "a child playing in a park", "kids at a birthday party, balloons", "a teenager skateboarding",
    "twelve year old boy playing football", "a 12-year-old girl at a spelling bee",
    "eleven yo at a chess tournament", "sexy woman in a red dress", "a sensual perfume advert",
    "schoolgirl uniform on a hanger", "little girl with a puppy", "young boy fishing",
    "a baby elephant", "newborn lamb", "infant formula tin", "teens at a concert",
    # Accents, other scripts, and look-alike letters in ordinary words.
    "café au lait", "naïve art", "crème brûlée", "São Paulo skyline", "Zürich old town",
    "piñata at a party", "jalapeño peppers", "Ångström symbol", "façade of a building",
    "Japanese text ナイス", "雪の中の狐", "桜の木の下の猫", "東京の夜景", "ロリポップキャンディー",
    "кот в снегу", "Москва ночью", "девушка в красном платье", "старый дом в лесу", "ребёнок играет",
    "ένας γάτος στο χιόνι", "Ακρόπολη το ηλιοβασίλεμα", "παιδί που παίζει", "νύχτα στην Αθήνα",
    "बच्चा खेल रहा है", "قطة في الثلج", "חתול בשלג", "고양이가 눈 속에", "แมวในหิมะ",
    "ᴛʜᴇ ǫᴜɪᴄᴋ ʙʀᴏᴡɴ ꜰᴏx", "ℍ𝕖𝕝𝕝𝕠 𝕨𝕠𝕣𝕝𝕕", "ⓗⓔⓛⓛⓞ", "🇺🇸 flag and 🇯🇵 flag",
    "🇩🇪 and 🇫🇷 flags", "a fox 🦊 in snow", "Ꮯherokee syllabary poster",
    "nаture walk", "сlassic car",  # Cyrillic letters in harmless words
    "a cat named Nya", "nyde", "Noël market", "Dvořák concert", "Ørsted wind farm", "Łódź street",
    # Ordinary prompts.
    "a red fox in snow, highly detailed, trending on artstation",
    "portrait of an old sailor, oil painting, dramatic light",
    "a castle on a hill at dawn", "a dragon over a city", "cyberpunk street, neon, rain",
    "a bowl of ramen, studio lighting", "watercolor of a lighthouse", "a robot reading a book",
    "summer beach with umbrellas", "a cozy cabin in the woods",
    "a mother holding her child, renaissance painting", "a family picnic with kids and a dog",
    "a figure skater, 15 years old, winning a medal", "an anatomy textbook illustration of a heart",
    "a classic sculpture gallery", "a mermaid with long hair covering her, fantasy art",
    "a woman in a bikini on a beach", "a man shirtless chopping wood", "a ballet dancer on stage",
    "a spa with towels and candles", "a romantic dinner for two", "a couple kissing in the rain",
    "a seductive villain in a noir film", "lingerie shop window display, mannequins",
    "a bedroom interior, morning light", "a pin-up style poster of a 1950s car",
    "a provocative political cartoon", "a suggestive wink emoji", "hot springs in Japan, monkeys bathing",
    "breast cancer awareness ribbon", "a strip mall at night", "a comic strip about cats",
    "a stripper clip for a rifle", "a thong sandal",
    "Lolita lempicka perfume bottle", "a teen titans poster",
    "a minor key on a piano score", "kid's menu at a diner", "Kidd Creek mine", "Kidderminster carpet",
    "Childish Gambino concert", "schoolboy error in chess", "Infant Jesus of Prague statue",
    "the toddler years, a parenting book cover",
]


@pytest.mark.parametrize("prompt", HARMLESS)
def test_harmless_prompts_pass(prompt: str) -> None:
    hit = NO_RULES.check(prompt, age_restricted=False, mild_filter=True)
    assert hit is None, (prompt, hit)


SERVER_WORDS = ["castle", "dragon", "big cat"]


@pytest.mark.parametrize("prompt", HARMLESS)
def test_harmless_prompts_pass_a_strict_server_too(prompt: str) -> None:
    rules = PromptRules.build(["cat", "bass", "ass", "tit", "penis"], ["\\bsex\\b"], strict=True)
    if any(w in prompt.lower().split() for w in ("cat", "bass", "tit")):  # the words it blocks, as themselves
        return
    assert rules.check(prompt, age_restricted=True, mild_filter=False) is None, prompt


# -- the bypass corpus: the minors rule, refused everywhere with every filter off ------------------

CYR_A, CYR_I, CYR_U, CYR_O, CYR_E = "\u0430", "\u0456", "\u0443", "\u043e", "\u0435"
GREEK_NU, GREEK_O, GREEK_I = "\u03bd", "\u03bf", "\u03b9"

MINOR_BYPASSES = [
    # Look-alike letters: Cyrillic, Greek, Cherokee, small capitals, mathematical letters.
    f"n{CYR_A}ked child", f"ch{CYR_I}ld nude", f"n{CYR_U}de kid", f"{GREEK_NU}ude child",
    f"kid in lingerie, n{CYR_A}k{CYR_E}d", f"l{CYR_O}l{CYR_I} hentai", f"p{GREEK_O}rn of a m{GREEK_I}nor",
    "ɴᴜᴅᴇ ᴄʜɪʟᴅ", "ᴛᴇᴇɴ ʟɪɴɢᴇʀɪᴇ", "𝐧𝐮𝐝𝐞 𝐜𝐡𝐢𝐥𝐝", "𝓷𝓪𝓴𝓮𝓭 𝓴𝓲𝓭", "ⓝⓤⓓⓔ ⓒⓗⓘⓛⓓ", "🇳🇺🇩🇪 child",
    "ꮯhild nude",
    # Diacritics, composed and combining; zalgo.
    "nüde child", "ná\u0301ked child", "n\u0303\u0308u\u0301d\u0300e child", "çhïld nûdé", "ñaked kïd",
    "n\u0336u\u0336d\u0336e\u0336 child",
    # Digits and symbols for letters.
    "nud3 child", "ch1ld nude", "n@ked kid", "$exy child", "s3xy k1d", "p0rn loli", "h3nt41 sh0ta",
    "l1ttle g1rl naked", "t33n t0pl3ss", "k!d nude", "ch|ld naked", "nak3d sch00lg1rl", "l0l1 nud3",
    "chi1d nsfw",
    # Letters spelled apart, with spaces or punctuation.
    "n u d e child", "n.u.d.e child", "nu-de child", "c h i l d naked", "n-a-k-e-d kid", "na.ked kid",
    "a n u d e kid", "c.h.i.l.d n.u.d.e", "nu_de child", "n . u . d . e child", "t e e n porn",
    "s e x y child", "l o l i nsfw", "childnude spelled c h i l d n u d e",
    # Spelled-out ages.
    "twelve year old, nude", "twelve-year-old nude", "12 y/o nude", "eleven yo nude",
    "a 12yo in lingerie", "thirteen years old, topless", "fourteen-year-old girl, sexy",
    "aged 12, naked", "aged twelve, erotic", "9 yr old nude", "sixteen yrs old, nsfw", "12 y.o. lewd",
    "15-year-old in lingerie",
    # Tricks together.
    f"n{CYR_U}d3 ch1ld", "ᴄ ʜ ɪ ʟ ᴅ nude", "t w e l v e year old nude", f"tw{CYR_E}lv{CYR_E} yo n@ked",
]


@pytest.mark.parametrize("prompt", MINOR_BYPASSES)
def test_minor_bypasses_are_refused_with_every_filter_off(prompt: str) -> None:
    hit = NO_RULES.check(prompt, age_restricted=True, mild_filter=False)
    assert hit is not None and hit.rule is Rule.MINOR_SAFETY, (prompt, hit)


# -- the bypass corpus: explicit terms, refused outside age-restricted channels ----------------------

EXPLICIT_BYPASSES = [
    f"n{CYR_A}ked statue", f"{GREEK_NU}ude beach", f"n{CYR_U}de beach", "ɴᴜᴅᴇ beach", "𝐩𝐨𝐫𝐧 poster",
    "nüde painting", "ná\u0301ked man", "p0rn", "nud3 woman", "n@ked man", "h3nt41 art", "s3x scene",
    "t1ts", "b00bs", "n u d e beach", "n.u.d.e beach", "nu-de beach", "p o r n", "a n u d e woman",
    "h-e-n-t-a-i", "x x x", "🇳🇺🇩🇪 beach", "ⓝⓤⓓⓔ", "n\u0336a\u0336k\u0336e\u0336d\u0336 woman",
    f"p{CYR_O}rn{CYR_O}", "ᴘ ᴏ ʀ ɴ", "an@l", "pu$$y", "er0tic", "l3wd", "n-s-f-w", "g e n i t a l s",
    "nippl3s", "orga$m", "ecch1",
]


@pytest.mark.parametrize("prompt", EXPLICIT_BYPASSES)
def test_explicit_bypasses_are_refused_outside_age_restricted_channels(prompt: str) -> None:
    hit = NO_RULES.check(prompt, age_restricted=False, mild_filter=True)
    assert hit is not None and hit.rule is Rule.MILD_FILTER, (prompt, hit)
    assert NO_RULES.check(prompt, age_restricted=True, mild_filter=True) is None


# -- server words and patterns: look-alikes and accents always, leetspeak and spacing when strict ----

ALWAYS = [f"a c{CYR_A}stle", "a cástle", "a ca\u0301stle", "ᴄᴀsᴛʟᴇ", "𝐜𝐚𝐬𝐭𝐥𝐞 at dawn", "ⓒⓐⓢⓣⓛⓔ",
          f"{CYR_E}vil dr{CYR_A}gon", "drägon", f"c{CYR_U}stle ruins".replace(CYR_U, CYR_A)]
STRICT_ONLY = ["c4stl3", "a c a s t l e", "c.a.s.t.l.e", "cas-tle", "dr4g0n", "d r a g o n", "c@stle",
               "ca$tle", "dr@gon", "c a s t l e s"]


@pytest.mark.parametrize("prompt", ALWAYS)
@pytest.mark.parametrize("strict", [False, True])
def test_server_words_undo_look_alikes_and_accents_by_default(prompt: str, strict: bool) -> None:
    rules = PromptRules.build(["castle", "evil dragon", "dragon"], [], strict=strict)
    hit = rules.check(prompt, age_restricted=True, mild_filter=False)
    assert hit is not None and hit.rule is Rule.SERVER_WORD, (prompt, hit)


@pytest.mark.parametrize("prompt", ALWAYS)
def test_server_patterns_undo_look_alikes_and_accents_by_default(prompt: str) -> None:
    rules = PromptRules.build([], ["cas?tle", "dra+gon"])
    hit = rules.check(prompt, age_restricted=True, mild_filter=False)
    assert hit is not None and hit.rule is Rule.SERVER_PATTERN, (prompt, hit)


@pytest.mark.parametrize("prompt", STRICT_ONLY)
def test_leetspeak_and_spacing_reach_server_words_only_in_strict_mode(prompt: str) -> None:
    lenient = PromptRules.build(["castle", "dragon"], [])
    strict = PromptRules.build(["castle", "dragon"], [], strict=True)
    assert lenient.check(prompt, age_restricted=True, mild_filter=False) is None, prompt
    hit = strict.check(prompt, age_restricted=True, mild_filter=False)
    assert hit is not None and hit.rule is Rule.SERVER_WORD and hit.term in ("castle", "dragon"), (prompt, hit)


@pytest.mark.parametrize("prompt", STRICT_ONLY)
def test_leetspeak_and_spacing_reach_server_patterns_only_in_strict_mode(prompt: str) -> None:
    lenient = PromptRules.build([], ["castle|dragon"])
    strict = PromptRules.build([], ["castle|dragon"], strict=True)
    assert lenient.check(prompt, age_restricted=True, mild_filter=False) is None, prompt
    hit = strict.check(prompt, age_restricted=True, mild_filter=False)
    assert hit is not None and hit.rule is Rule.SERVER_PATTERN, (prompt, hit)


def test_a_server_word_with_accents_of_its_own_matches_with_or_without_them() -> None:
    rules = PromptRules.build(["café"], [])
    for prompt in ("a café", "a cafe", "a CAFÉ", "a cafe\u0301"):
        assert rules.check(prompt, age_restricted=True, mild_filter=False) is not None, prompt


def test_a_server_word_in_another_script_still_matches_itself() -> None:
    rules = PromptRules.build(["кот", "ナイス"], [])
    assert rules.check("кот в снегу", age_restricted=True, mild_filter=False) is not None
    assert rules.check("とてもナイスな日", age_restricted=True, mild_filter=False) is None  # whole words only
    assert rules.check("ナイス です", age_restricted=True, mild_filter=False) is not None
    assert rules.check("кошка в снегу", age_restricted=True, mild_filter=False) is None


# -- the readings themselves ----------------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    (f"n{CYR_A}ked", "naked"), ("ɴᴜᴅᴇ", "nude"), ("nüde", "nude"), ("ná\u0301ked", "naked"),
    ("🇳🇺🇩🇪", "nude"), ("ꮯhild", "child"), ("pom", "pom"), ("ナイス", "ナイス"), ("кот", "кoт"),
    ("ガ", "ガ"),  # the Japanese voicing mark is part of the letter, not a diacritic
])
def test_fold(text: str, expected: str) -> None:
    assert fold(text) == expected


def test_unmix_reads_only_mixed_script_words() -> None:
    assert unmix(f"n{CYR_U}de кот") == "nude кот"
    assert unmix("кот в снегу") is None
    assert unmix("plain ascii") is None


@pytest.mark.parametrize(("text", "texts", "spelled"), [
    ("nud3", ("nude",), ()),
    ("ch1ld", ("child", "chlld"), ()),  # 1 may stand for i or l
    ("l1ttle", ("little", "llttle"), ()),
    ("a n u d e", ("anude",), ("anude",)),
    ("nu-de and y/o", ("nude and yo",), ()),
    ("12yo 4k 1girl", None, None),  # a number first is a number
    ("a plain prompt", None, None),
])
def test_loosen(text: str, texts: tuple[str, ...] | None, spelled: tuple[str, ...] | None) -> None:
    found = loosen(text)
    if texts is None:
        assert found is None
        return
    assert found is not None and found.texts == texts and found.spelled == spelled


# -- the readings built from chunks, as the check takes them, against the whole-text definitions ----

def _by_definition(normalized: str) -> Readings:
    folded = fold(normalized)
    unmixed = unmix(normalized)
    mixed = None if unmixed is None or fold(unmixed) == folded else fold(unmixed)
    return Readings(folded, mixed, loosen(folded if mixed is None else mixed))


def _tricky_texts() -> list[str]:
    rng = random.Random(5)
    pieces = [*"abcdeilnostuxy0134579@$!|+_-./,'", " ", " ", "  ", "\t", "\n", "\x00", CYR_A, CYR_E, CYR_I, CYR_O,
              CYR_U, "\u0441", "\u0440", GREEK_NU, "ɴᴜᴅᴇ", "\u0301", "\u0308", "\u0336", "ナイス", "雪", "é", "ß", "²", "١",
              "🇳🇺", "kid", "child", "nude", "1girl", "12 yo", "c a s t l e", "n.u.d.3", "k!d", "ch|ld", "x" * 60]
    texts = [*HARMLESS, *MINOR_BYPASSES, *EXPLICIT_BYPASSES, *ALWAYS, *STRICT_ONLY]
    texts += ["".join(rng.choices(pieces, k=rng.randint(1, 40))) for _ in range(1500)]
    return [normalize(text) for text in texts]


def test_readings_built_from_chunks_are_the_definitions_readings(monkeypatch: pytest.MonkeyPatch) -> None:
    # Never seen (every chunk worked out in one batch), seen before (every chunk kept), and with a cache
    # so small that it starts over within a prompt.
    texts = _tricky_texts()
    forget_chunks()
    for text in texts:
        forget_chunks()
        assert read(text) == _by_definition(text), text
    for text in texts:
        read(text)
    for text in texts:
        assert read(text) == _by_definition(text), text
    monkeypatch.setattr(readings, "CHUNKS_KEPT", 3)
    for text in texts:
        assert read(text) == _by_definition(text), text
    forget_chunks()


def test_chunks_are_worked_out_one_by_one_when_a_batch_cannot_be_split_back(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(readings, "_split_back", lambda text, sep, count: None)
    forget_chunks()
    for text in _tricky_texts()[::7]:
        assert read(text) == _by_definition(text), text
    forget_chunks()


@pytest.mark.parametrize(("quick", "plain"), [
    (skeleton._NUMBER, r"(?<![a-z0-9])([0-9]+)"),
    (skeleton._LONE_SYMBOL, r"(?<![a-z0-9@$])[!|+]+|[!|+]+(?![a-z0-9@$])"),
    (skeleton._INNER_PUNCT, r"(?<=[a-z0-9])[^\w\s@$!|+]{1,2}(?=[a-z0-9@$])"),
], ids=["number", "lone-symbol", "inner-punctuation"])
def test_patterns_written_for_speed_match_their_plain_form(quick: re.Pattern[str], plain: str) -> None:
    slow = re.compile(plain)
    for text in _tricky_texts():
        text = fold(text)
        assert quick.split(text) == slow.split(text), text
        assert quick.sub("<\\g<0>>", text) == slow.sub("<\\g<0>>", text), text


def test_the_either_pattern_finds_what_its_plain_form_finds() -> None:
    plain = re.compile(r"[a-z][1!|]|[!|][a-z]")
    for text in _tricky_texts():
        text = fold(text)
        assert (skeleton._EITHER.search(text) is None) == (plain.search(text) is None), text


def test_the_corpora_are_generous() -> None:
    assert len(HARMLESS) >= 150
    assert len(MINOR_BYPASSES) + len(EXPLICIT_BYPASSES) >= 100
