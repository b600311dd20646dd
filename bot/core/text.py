"""Small wording helpers shared by services and embeds, and the one place that quotes member text safely."""

from __future__ import annotations

import re
from datetime import datetime

from bot.core.i18n import Text, _n


def credits(n: int) -> Text:
    """"1 credit", "3 credits", in the reader's language where it is shown."""
    return _n("{n} credit", "{n} credits", n)


def relative_time(when: datetime) -> str:
    """Discord renders this markup as "in 5 hours" in the reader's own locale and time zone."""
    return f"<t:{int(when.timestamp())}:R>"


def truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


# Shown text from members (prompts, filenames, option values) goes inside code, where Discord renders
# no headings, links, masked links, lists, quotes, spoilers or emoji. Escaping each markdown rule instead
# would have to keep up with Discord's (discord.utils.escape_markdown misses numbered lists and bare URLs).
_BACKTICK_RUN = re.compile(r"`(?=`)")
_LINE_BREAKS = re.compile(r"[\r\n\u2028\u2029]+")
# Controls and bidi marks could hide or reorder shown text; zero-width joiners stay (emoji, scripts).
_INVISIBLE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2060-\u206f\ufeff]")
FENCE = "```"
SPAN_TICK_STAND_IN = "ˋ"  # U+02CB looks like a backtick but cannot end a code span


def end_sentence(text: str) -> str:
    """`text` with a full stop, unless it already ends like a sentence: quoted text that ends one (a code
    span "`...filter.`", an escaped "dark\\.") needs no second stop after it."""
    last = text.rstrip().rstrip("`").rstrip()
    return text if last.endswith((".", "!", "?", "…")) else f"{text}."


def code_block(text: str, limit: int) -> str:
    """`text` as a code block of at most `limit` characters; it cannot close the block early."""
    body = _BACKTICK_RUN.sub("`\u200b", _INVISIBLE.sub("", text).replace("\t", " ")) or " "
    room = limit - 2 * len(FENCE) - 3  # two line breaks and a possible trailing stand-in
    body = truncate(body, max(1, room))
    # A trailing backtick would run into the closing fence.
    if body.endswith("`"):
        body += "\u200b"
    return f"{FENCE}\n{body}\n{FENCE}"


def code_span(text: object, limit: int = 80) -> str:
    """`text` as one line of inline code of at most `limit` characters, for quoting member input."""
    line = _LINE_BREAKS.sub(" ", _INVISIBLE.sub("", str(text))).replace("`", SPAN_TICK_STAND_IN).strip()
    return f"`{truncate(line, max(1, limit - 2)) or ' '}`"


_MARKDOWN = re.compile(r"([\\*_~`|>#\-\[\]()<:.!+=/])")


def plain(text: object, limit: int) -> str:
    """A short label (a display name in a title) with every markdown character escaped, on one line."""
    line = _LINE_BREAKS.sub(" ", _INVISIBLE.sub("", str(text))).strip()
    return _MARKDOWN.sub(r"\\\1", truncate(line, max(1, limit // 2)))
