"""Command sync only when the definitions changed: Discord allows 200 creates per guild per day.

The commands go out with their localizations (bot/ui/i18n.py's translator), and a changed catalog
is a change: the digest is of the payload Discord gets, translations included."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from pathlib import Path

import discord
from discord import app_commands

from bot.ui.i18n import CommandTranslator

log = logging.getLogger(__name__)


def _target(guild_id: int | None) -> str:
    return f"guild:{guild_id}" if guild_id else "global"


async def command_digest(tree: app_commands.CommandTree, guild: discord.abc.Snowflake | None) -> str:
    translator = tree.translator
    commands = tree.get_commands(guild=guild)
    if translator is None:
        payload = [cmd.to_dict(tree) for cmd in commands]
    else:
        payload = [await cmd.get_translated_payload(tree, translator) for cmd in commands]
    blob = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


async def sync_if_changed(tree: app_commands.CommandTree, state_file: Path, *, dev_guild_id: int | None,
                          force: bool) -> bool:
    guild = discord.Object(dev_guild_id) if dev_guild_id else None
    if tree.translator is None:
        await tree.set_translator(CommandTranslator())
    if guild is not None:
        tree.copy_global_to(guild=guild)
    digest = await command_digest(tree, guild)
    state = _read(state_file)
    target = _target(dev_guild_id)
    if not force and state.get(target) == digest:
        log.info("commands unchanged since the last sync to %s; not syncing", target)
        return False
    synced = await tree.sync(guild=guild)
    state[target] = digest
    await _clear_stale_guilds(tree, state, keep=target)
    await asyncio.to_thread(_write, state_file, state)
    log.info("synced %d command(s) to %s", len(synced), target)
    return True


async def _clear_stale_guilds(tree: app_commands.CommandTree, state: dict[str, str], *, keep: str) -> None:
    """Commands once synced to a dev guild would otherwise show twice there once they go global."""
    for stale in [t for t in state if t.startswith("guild:") and t != keep]:
        guild = discord.Object(int(stale.removeprefix("guild:")))
        tree.clear_commands(guild=guild)
        await tree.sync(guild=guild)
        del state[stale]
        log.info("removed the commands left in %s by an earlier DEV_GUILD_ID", stale)


def _write(path: Path, state: dict[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(state, indent=2))


def _read(path: Path) -> dict[str, str]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
