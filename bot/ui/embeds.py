"""Presentation: a finished job becomes an embed and, when it fits, an attached file."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import discord

from bot.core.i18n import Text, _, _n, render
from bot.core.imaging import Upload
from bot.core.text import code_block, truncate
from bot.services.generation import Outcome

# Discord's embed limits (developers/resources/message.mdx).
TITLE_MAX = 256
FIELD_VALUE_MAX = 1024
AUTHOR_MAX = 256
EMBED_TOTAL_MAX = 6000
PROMPT_SHOWN_MAX = 1800

COLOUR = discord.Colour(0x5865F2)


class TooLargeToPost(Exception):
    """The image fits neither as an upload nor as a link."""


# What each option is called above its value on a result (the catalog's options, and the fixed fields).
LABELS = {
    "prompt": _("Prompt"),
    "negative_prompt": _("Negative prompt"),
    "width": _("Width"),
    "height": _("Height"),
    "steps": _("Steps"),
    "guidance": _("Guidance"),
    "seed": _("Seed"),
    "aspect_ratio": _("Aspect ratio"),
    "output_format": _("Output format"),
    "output_quality": _("Output quality"),
    "prompt_strength": _("Prompt strength"),
}


def label(option: str) -> Text | str:
    return LABELS.get(option) or option.replace("_", " ").capitalize()


def file_stem(outcome: Outcome) -> str:
    """The result's file name without extension: the command and the job, so members can find it again."""
    return f"{outcome.prepared.model.key}-{outcome.job_id}"


def result_message(outcome: Outcome, *, requester: str, avatar_url: str | None, upload: Upload | None,
                   thumbnail_url: str | None = None, spoiler: bool = False, locale: str = "en-US",
                   ) -> tuple[discord.Embed, discord.File | None]:
    """`upload` is the result already made to fit the upload limit (`imaging.fit_off_loop`), or None: link it.

    `spoiler`: Discord cannot blur an embed's image, so the file is posted beside the embed, marked as a
    spoiler, and a link is given only behind spoiler bars."""
    def t(text: Text | str) -> str:
        return render(text, locale)

    prepared = outcome.prepared
    embed = discord.Embed(
        title=truncate(prepared.model.title, TITLE_MAX),
        # Member text inside code: a prompt cannot post a link, heading or quote under the bot's name.
        description=code_block(prepared.prompt, PROMPT_SHOWN_MAX),
        colour=COLOUR,
        timestamp=datetime.now(UTC),
    )
    embed.set_author(name=truncate(t(_("Requested by {name}", name=requester)), AUTHOR_MAX), icon_url=avatar_url)
    for option, value in prepared.shown:
        if option == "negative_prompt":
            embed.add_field(name=t(label(option)), value=code_block(str(value), FIELD_VALUE_MAX), inline=False)
        else:
            embed.add_field(name=t(label(option)), value=truncate(str(value), FIELD_VALUE_MAX))
    embed.add_field(name=t(_("Time")), value=t(_("{seconds} s", seconds=f"{outcome.seconds:.1f}")))
    quota = outcome.quota
    embed.add_field(name=t(_("Cost")), value=t(_n("{n} credit · {left} left today", "{n} credits · {left} left today",
                                                  outcome.cost, left=quota.left)))
    embed.set_footer(text=t(_("/{command} · job #{job}", command=prepared.model.key, job=outcome.job_id)))
    if thumbnail_url:
        embed.set_thumbnail(url=thumbnail_url)

    if upload is not None:
        file = discord.File(io.BytesIO(upload.data), filename=upload.filename, spoiler=spoiler)
        if not spoiler:
            embed.set_image(url=f"attachment://{upload.filename}")
    elif outcome.image.url:
        if spoiler:
            embed.add_field(name=t(_("Image")), value=f"||{truncate(outcome.image.url, FIELD_VALUE_MAX - 4)}||", inline=False)
        else:
            embed.set_image(url=outcome.image.url)
        file = None
    else:
        raise TooLargeToPost(f"{len(outcome.image.data)} bytes did not fit the upload limit, and no URL")
    _trim_to_total(embed, prepared.prompt)
    return embed, file


def _trim_to_total(embed: discord.Embed, prompt: str) -> None:
    excess = len(embed) - EMBED_TOTAL_MAX
    if excess > 0 and embed.description:
        embed.description = code_block(prompt, max(1, len(embed.description) - excess))
