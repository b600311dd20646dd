"""What operators and members read: the README's command examples are commands the bot has, and the
user-facing files speak of the bot, never of the work that built it."""

from __future__ import annotations

import ast
import asyncio
import re
from pathlib import Path

import discord
from discord import app_commands
from discord.ext import commands

from bot.ui.app import EXTENSIONS

ROOT = Path(__file__).resolve().parents[1]
USER_FACING = ["README.md", ".env.example", "docker-compose.yml", "Dockerfile", "deploy/pixazo-bot.service"]
HISTORY = re.compile(r"\b(issues?|parts?)\s+\d+\b|\bissue's\b", re.IGNORECASE)
NOT_COMMANDS = {"data"}  # /data, the image's DATA_DIR


def command_tree() -> app_commands.CommandTree:
    async def load() -> app_commands.CommandTree:
        bot = commands.Bot(command_prefix="!", intents=discord.Intents.none())
        for name in EXTENSIONS:
            await bot.load_extension(name)
        return bot.tree

    return asyncio.run(load())


def test_every_command_example_in_the_readme_is_a_command_with_those_options():
    tree = command_tree()
    examples = re.findall(r"`(/[a-z0-9-]+(?: [^`]*)?)`", (ROOT / "README.md").read_text())
    checked = 0
    for example in examples:
        words = example[1:].split()
        if words[0] in NOT_COMMANDS:
            continue
        found = tree.get_command(words[0])
        assert found is not None, f"{example}: no command /{words[0]}"
        rest = words[1:]
        while isinstance(found, app_commands.Group) and rest and re.fullmatch(r"[a-z-]+", rest[0]):
            found = found.get_command(rest[0])
            assert found is not None, f"{example}: no subcommand {rest[0]!r}"
            rest = rest[1:]
        if isinstance(found, app_commands.Group):
            continue  # a group named on its own ("/config …")
        options = {p.display_name for p in found.parameters}
        named = re.findall(r"(?:^|\s)\[?([a-z_]+)(?::|\])", " ".join(rest))
        assert set(named) <= options, f"{example}: /{found.qualified_name} has no option {set(named) - options}"
        bare = [w for w in rest if not re.match(r"\[?[a-z_]+[:\]]", w) and ":" not in w and not w.startswith(("\"",
                "@", "#", "<", "…"))]
        assert not [w for w in bare if w in ("on", "off")], f"{example}: a value without its option's name"
        checked += 1
    assert checked >= 20, "the README's examples were found"


def test_user_facing_files_speak_of_the_bot_not_of_its_history():
    for name in USER_FACING:
        text = (ROOT / name).read_text()
        assert not HISTORY.findall(text), f"{name}: {HISTORY.findall(text)}"


def test_what_members_read_speaks_of_the_bot_not_of_its_history():
    for path in [*ROOT.glob("bot/**/*.py"), *ROOT.glob("cogs/*.py")]:
        tree = ast.parse(path.read_text())
        docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                      if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                      and node.body and isinstance(node.body[0], ast.Expr)
                      and isinstance(node.body[0].value, ast.Constant)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
                assert not HISTORY.search(node.value), f"{path.relative_to(ROOT)}: {node.value!r}"


def test_compose_has_no_default_database_password():
    compose = (ROOT / "docker-compose.yml").read_text()
    uses = re.findall(r"\$\{POSTGRES_PASSWORD([^}]*)\}", compose)
    assert uses and all(use.startswith(":?") for use in uses), uses
