"""What operators and members read: the command examples in the README and docs/ are commands the bot
has, their links lead somewhere, docs/settings.md lists every setting, and the user-facing files speak
of the bot, never of the work that built it."""

from __future__ import annotations

import ast
import asyncio
import re
from pathlib import Path

import discord
from discord import app_commands
from discord.ext import commands

from bot.ui.app import EXTENSIONS

ROOT = Path(__file__).resolve().parents[2]
DOCS = ["README.md", *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "docs").glob("*.md"))]
USER_FACING = [*DOCS, ".env.example", "docker-compose.yml", "Dockerfile",
               *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "deploy").rglob("*") if p.is_file())]
HISTORY = re.compile(r"\b(issues?|parts?)\s+\d+\b|\bissue's\b", re.IGNORECASE)
NOT_COMMANDS = {"data"}  # /data, the image's DATA_DIR


def command_tree() -> app_commands.CommandTree:
    async def load() -> app_commands.CommandTree:
        bot = commands.Bot(command_prefix="!", intents=discord.Intents.none())
        for name in EXTENSIONS:
            await bot.load_extension(name)
        return bot.tree

    return asyncio.run(load())


def test_the_docs_are_the_readme_and_the_guides_it_links_to():
    assert {"docs/operations.md", "docs/moderation.md", "docs/settings.md", "docs/benchmarks.md"} <= set(DOCS)


def test_every_command_example_in_the_docs_is_a_command_with_those_options():
    tree = command_tree()
    examples = [example for name in DOCS
                for example in re.findall(r"`(/[a-z0-9-]+(?: [^`]*)?)`", (ROOT / name).read_text())]
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
    assert checked >= 60, "the examples were found"


def anchors(markdown: str) -> set[str]:
    """The ids GitHub gives a file's headings: lower case, punctuation dropped, spaces as hyphens."""
    headings = re.findall(r"^#+ (.+)$", re.sub(r"^```.*?^```", "", markdown, flags=re.M | re.S), re.M)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


def test_every_link_between_the_docs_leads_to_a_file_and_a_heading_there():
    checked = 0
    for name in DOCS:
        source = ROOT / name
        for target in re.findall(r"\]\(([^)\s]+)\)", source.read_text()):
            if re.match(r"[a-z]+:", target):
                continue  # https://, mailto:
            path, _, anchor = target.partition("#")
            file = (source.parent / path).resolve() if path else source
            assert file.is_file(), f"{name}: {target} leads to no file"
            if anchor:
                assert anchor in anchors(file.read_text()), f"{name}: {target} names no heading of {path or name}"
            checked += 1
    assert checked >= 20, "the links were found"


def test_every_setting_is_in_env_example_and_once_in_the_settings_table():
    from bot.core.settings import Settings

    names = {name.upper() for name in Settings.model_fields}
    text = (ROOT / ".env.example").read_text()
    in_example = {line.lstrip("# ").split("=", 1)[0] for line in text.splitlines() if "=" in line}
    assert names - in_example == set()
    table = re.findall(r"^\| `([A-Z0-9_]+)` \|", (ROOT / "docs" / "settings.md").read_text(), re.M)
    assert sorted(table) == sorted(names), "docs/settings.md: one row per setting, no other rows"


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
