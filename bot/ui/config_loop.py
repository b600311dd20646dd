"""The loop's side of /config: a server's styles (add, remove, list) and /imagine's settings here (the
model for members without their own default, and whether members may have results shown to them
alone); and sending a long list (blocked words, styles) as an embed or, past its limit, a text file."""

from __future__ import annotations

import io

import discord

from bot.catalog import MODELS
from bot.core.errors import InvalidInput
from bot.core.i18n import Text, _, option_name
from bot.core.text import code_span
from bot.domain.rules import RuleKind, RuleLimit
from bot.moderation.config import IMAGINE_MODEL, PRIVATE_RESULTS, GuildConfig
from bot.moderation.styles import BUILTIN_STYLES, MAX_STYLES, check_template, style_name
from bot.ui.app import PixazoBot
from bot.ui.checks import guild_of
from bot.ui.embeds import COLOUR
from bot.ui.i18n import for_member
from bot.ui.replies import NO_PINGS

PAGE_MAX = 4000  # an embed description holds 4096; longer lists go in a text file
Interaction = discord.Interaction[PixazoBot]


async def send_list(interaction: Interaction, title: Text, text: Text | str, lines: list[str], filename: str) -> None:
    """`text` in an embed when it fits, else `lines` as an attached text file; in the admin's language."""
    t = for_member(interaction)
    if len(t(text)) <= PAGE_MAX:
        embed = discord.Embed(title=t(title), description=t(text), colour=COLOUR)
        await interaction.followup.send(embed=embed, ephemeral=True, allowed_mentions=NO_PINGS)
        return
    listing = discord.File(io.BytesIO("\n".join(lines).encode()), filename=filename)
    await interaction.followup.send(t(_("{title}: the list is attached.", title=title)), file=listing, ephemeral=True,
                                    allowed_mentions=NO_PINGS)


async def _config(interaction: Interaction) -> GuildConfig:
    return await interaction.client.services.moderation.config(guild_of(interaction))


async def add_style(interaction: Interaction, raw_name: str, template: str) -> Text:
    name = style_name(raw_name)
    config = await _config(interaction)
    text = check_template(template, config.rules)
    # Together with the built-ins still offered, never past what one autocomplete can show.
    builtins = sum(1 for n in config.styles if n in BUILTIN_STYLES and n not in config.own_styles)
    try:
        added = await interaction.client.services.moderation.put(
            guild_of(interaction), RuleKind.STYLE, name, {"template": text}, actor_id=interaction.user.id,
            limit=MAX_STYLES - builtins - (1 if name in BUILTIN_STYLES and name in config.styles else 0))
    except RuleLimit:
        raise InvalidInput(_("This server already offers {most} styles, the most one list can show; remove one "
                             "first.", most=MAX_STYLES), detail="style limit reached") from None
    values = {"name": code_span(name, 40), "template": code_span(text, 600)}
    if added:
        return _("Style {name} saved: {template}. Members pick it with `style` on /imagine and every model's "
                 "command.", **values)
    return _("Style {name} was already exactly so: {template}. Members pick it with `style` on /imagine and every "
             "model's command.", **values)


async def remove_style(interaction: Interaction, raw_name: str) -> Text:
    name = style_name(raw_name)
    config = await _config(interaction)
    moderation, guild = interaction.client.services.moderation, guild_of(interaction)
    if name not in config.styles:
        raise InvalidInput(_("This server has no style named {name}.", name=code_span(name, 40)))
    if name in config.own_styles:
        await moderation.remove(guild, RuleKind.STYLE, name, actor_id=interaction.user.id)
    if name in BUILTIN_STYLES and name in (await _config(interaction)).styles:
        await moderation.put(guild, RuleKind.STYLE_OFF, name, actor_id=interaction.user.id)
    return _("Style {name} removed; members who had it in /settings go without it.", name=code_span(name, 40))


async def list_styles(interaction: Interaction) -> None:
    config = await _config(interaction)
    if not config.styles:
        await interaction.followup.send(for_member(interaction)(_("This server offers no styles. Add one with "
                                                                  "`/config styles add`.")),
                                        ephemeral=True, allowed_mentions=NO_PINGS)
        return
    lines = [f"{name}: {template}" for name, template in sorted(config.styles.items())]
    text = "\n".join(f"**{name}**: {code_span(template, 300)}" for name, template in sorted(config.styles.items()))
    await send_list(interaction, _("Styles ({n} of {most})", n=len(lines), most=MAX_STYLES), text, lines, "styles.txt")


async def set_imagine(interaction: Interaction, model: str | None, private_results: str | None) -> Text:
    moderation, guild = interaction.client.services.moderation, guild_of(interaction)
    if model is not None:
        if model not in MODELS or MODELS[model].image_field is not None:
            raise InvalidInput(_("`{option}` must be {kind}.", option=option_name("model"), kind=_(
                "a text model ({models})", models=", ".join(k for k, m in MODELS.items() if not m.image_field))))
        await moderation.set(guild, IMAGINE_MODEL, model, actor_id=interaction.user.id)
    if private_results is not None:
        await moderation.set(guild, PRIVATE_RESULTS, private_results == "on", actor_id=interaction.user.id)
    config = await _config(interaction)
    model_now = f"/{config.get(IMAGINE_MODEL)}"
    if config.get(PRIVATE_RESULTS):
        return _("/imagine uses {command} for members without their own default. Members may have their results "
                 "shown to them alone (/settings).", command=model_now)
    return _("/imagine uses {command} for members without their own default. Members may not have their results "
             "shown to them alone (/settings).", command=model_now)
