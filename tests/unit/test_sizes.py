"""Every module of the bot reads in one sitting: at most 400 lines, no function over 50; the ledger's
(bot/storage, each backend split by concern as its roles are) at most 300."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MODULE_MAX = 400
STORAGE_MAX = 300
FUNCTION_MAX = 50
MODULES = sorted([*ROOT.glob("bot/**/*.py"), *ROOT.glob("cogs/*.py")])


def _name(path: Path) -> str:
    return str(path.relative_to(ROOT))


@pytest.mark.parametrize("path", MODULES, ids=_name)
def test_a_module_is_at_most_400_lines_and_a_ledger_module_300(path):
    limit = STORAGE_MAX if _name(path).startswith("bot/storage/") else MODULE_MAX
    lines = len(path.read_text().splitlines())
    assert lines <= limit, f"{_name(path)} has {lines} lines: split it by concern"


@pytest.mark.parametrize("path", MODULES, ids=_name)
def test_no_function_is_over_50_lines(path):
    long = [(node.name, node.end_lineno - node.lineno + 1) for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            and node.end_lineno is not None and node.end_lineno - node.lineno + 1 > FUNCTION_MAX]
    assert not long, f"{_name(path)}: {long}"
