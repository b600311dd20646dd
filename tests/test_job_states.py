"""Every job state the SQL of either backend names is JobState's: checked, not trusted."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.domain import OPEN_STATES, JobState
from bot.domain.jobs import TRANSITIONS

STORAGE = Path(__file__).resolve().parent.parent / "bot" / "storage"
BACKENDS = ("sqlite", "postgres")
STATES = {s.value for s in JobState}
# `state IN ('a', 'b')` and `state != 'a'` / `state = 'a'`, with or without a NEW./OLD./j. prefix.
IN_LIST = re.compile(r"\bstate\s+IN\s*\(([^)]*)\)", re.IGNORECASE)
COMPARED = re.compile(r"\bstate\s*(?:=|!=|<>)\s*'([a-z_]+)'", re.IGNORECASE)


def sql_of(backend: str) -> str:
    return "\n".join(p.read_text() for p in sorted((STORAGE / backend / "migrations").glob("*.sql")))


def literals(text: str) -> list[str]:
    return re.findall(r"'([^']*)'", text)


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_check_constraint_lists_exactly_the_enums_states(backend):
    (check,) = re.findall(r"state\s+TEXT\s+NOT NULL\s+CHECK\s*\(state IN \(([^)]*)\)\)", sql_of(backend))
    assert set(literals(check)) == STATES


@pytest.mark.parametrize("backend", BACKENDS)
def test_every_state_list_in_the_migrations_is_all_states_or_the_open_ones(backend):
    lists = [set(literals(found)) for found in IN_LIST.findall(sql_of(backend))]
    assert lists, "the migrations name states"
    for found in lists:
        assert found in (STATES, {s.value for s in OPEN_STATES}), found


@pytest.mark.parametrize("backend", BACKENDS)
def test_every_state_compared_in_the_migrations_is_a_state_and_only_failed_refunds(backend):
    compared = COMPARED.findall(sql_of(backend))
    assert compared
    assert set(compared) <= STATES
    # The triggers release credits on entering 'failed': it must be the one refunding, final state.
    assert set(compared) == {JobState.FAILED.value}
    assert TRANSITIONS[JobState.FAILED] == frozenset()


@pytest.mark.parametrize("module", sorted(str(p.relative_to(STORAGE)) for p in STORAGE.rglob("*.py")))
def test_store_code_spells_no_state_itself(module):
    # The stores build their state lists and guards from JobState (OPEN_STATES, sources_of).
    text = (STORAGE / module).read_text()
    spelled = [s for s in STATES if re.search(rf"['\"]{s}['\"]", text)]
    assert not spelled, f"{module} spells {spelled}; derive it from JobState"


def test_open_states_are_those_with_a_way_out():
    assert {s for s in JobState if s.is_open} == {s for s, nxt in TRANSITIONS.items() if nxt}
