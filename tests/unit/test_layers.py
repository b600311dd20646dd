"""The house's rules that the import graph cannot see (import-linter checks the rest, in CI).

Cogs and the ui hold no store: the bot carries the services, and only the services call the store. An
attribute named `store` anywhere in cogs/ or bot/ui/ would be a way round that.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DISCORD_SIDE = sorted([*ROOT.glob("cogs/*.py"), *ROOT.glob("bot/ui/**/*.py")])


def _tree(path: Path) -> ast.AST:
    return ast.parse(path.read_text(), filename=str(path))


@pytest.mark.parametrize("path", DISCORD_SIDE, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_cog_or_ui_module_reaches_a_store(path):
    reaches = [node.lineno for node in ast.walk(_tree(path))
               if isinstance(node, ast.Attribute) and node.attr in ("store", "_store")]
    assert not reaches, f"{path.relative_to(ROOT)} reaches a store on line(s) {reaches}: call a service"


@pytest.mark.parametrize("path", DISCORD_SIDE, ids=lambda p: str(p.relative_to(ROOT)))
def test_interaction_client_is_typed_not_cast(path):
    text = path.read_text()
    casts = [n for n, line in enumerate(text.splitlines(), 1)
             if "interaction.client" in line and "type: ignore" in line]
    assert not casts, f"{path.relative_to(ROOT)}: use discord.Interaction[PixazoBot], not a cast (lines {casts})"


def test_discord_py_private_state_is_touched_in_one_place_only():
    """The Bot's close() cancels discord.py's ready wait, which has no public handle (bot/ui/app.py)."""
    found = [(str(path.relative_to(ROOT)), n) for path in [*ROOT.glob("bot/**/*.py"), *ROOT.glob("cogs/*.py")]
             for n, line in enumerate(path.read_text().splitlines(), 1) if re.search(r"\._connection\b", line)]
    assert [where for where, _ in found] == ["bot/ui/app.py"], found


def test_the_bot_holds_services_not_the_store():
    app = _tree(ROOT / "bot/ui/app.py")
    init = next(node for node in ast.walk(app) if isinstance(node, ast.FunctionDef) and node.name == "__init__")
    assigned = {target.attr for node in ast.walk(init) if isinstance(node, ast.Assign)
                for target in node.targets if isinstance(target, ast.Attribute)}
    assert "services" in assigned and "store" not in assigned
