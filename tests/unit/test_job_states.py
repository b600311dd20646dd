"""Every job state the SQL of either backend names is JobState's: checked, not trusted."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.domain import OPEN_STATES, JobState
from bot.domain.jobs import REFUNDED_STATES, TRANSITIONS

STORAGE = Path(__file__).resolve().parents[2] / "bot" / "storage"
BACKENDS = ("sqlite", "postgres")
STATES = {s.value for s in JobState}
REFUNDED = {s.value for s in REFUNDED_STATES}
# `state IN ('a', 'b')` and `state != 'a'` / `state = 'a'`, with or without a NEW./OLD./j. prefix.
IN_LIST = re.compile(r"\bstate\s+(?:NOT\s+)?IN\s*\(([^)]*)\)", re.IGNORECASE)
COMPARED = re.compile(r"\bstate\s*(?:=|!=|<>)\s*'([a-z_]+)'", re.IGNORECASE)


def sql_of(backend: str) -> str:
    return "\n".join(p.read_text() for p in sorted((STORAGE / backend / "migrations").glob("*.sql")))


def latest_naming_states(backend: str) -> str:
    """The last migration that names job states (0005, the queue; 0006 only adds columns)."""
    texts = [p.read_text() for p in sorted((STORAGE / backend / "migrations").glob("*.sql"))]
    return [t for t in texts if IN_LIST.search(t)][-1]


def literals(text: str) -> list[str]:
    return re.findall(r"'([^']*)'", text)


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_check_constraint_lists_exactly_the_enums_states(backend):
    # The constraint in force is the last one the migrations write (0005 replaced 0001's).
    checks = re.findall(r"CHECK\s*\(state IN \(([^)]*)\)\)", sql_of(backend))
    assert checks
    assert set(literals(checks[-1])) == STATES


@pytest.mark.parametrize("backend", BACKENDS)
def test_every_state_list_in_the_migrations_is_all_states_or_the_open_ones(backend):
    # 0005 (the queue) redefines the check, the open-jobs index and the triggers that name state
    # lists; the lists of earlier migrations are superseded (their indexes were dropped in 0004).
    latest = latest_naming_states(backend)
    lists = [set(literals(found)) for found in IN_LIST.findall(latest)]
    assert lists, "the migrations name states"
    for found in lists:
        assert found in (STATES, {s.value for s in OPEN_STATES}, REFUNDED), found


@pytest.mark.parametrize("backend", BACKENDS)
def test_every_state_compared_in_the_migrations_is_a_state_and_only_final_states_refund(backend):
    compared = COMPARED.findall(sql_of(backend))
    assert compared
    assert set(compared) <= STATES
    # The triggers release credits on entering a refunded state: each must be final.
    for state in REFUNDED_STATES:
        assert TRANSITIONS[state] == frozenset()
    # The trigger in force is the last one the migrations create (a later one may only change its function).
    release = re.findall(r"CREATE TRIGGER jobs_release.*?WHEN\s*\(?(.*?)(?:BEGIN|EXECUTE)", sql_of(backend), re.S)[-1]
    assert {set(literals(found)) == REFUNDED for found in IN_LIST.findall(release)} == {True}


@pytest.mark.parametrize("module", sorted(str(p.relative_to(STORAGE)) for p in STORAGE.rglob("*.py")))
def test_store_code_spells_no_state_itself(module):
    # The stores build their state lists and guards from JobState (OPEN_STATES, sources_of).
    text = (STORAGE / module).read_text()
    spelled = [s for s in STATES if re.search(rf"['\"]{s}['\"]", text)]
    assert not spelled, f"{module} spells {spelled}; derive it from JobState"


def test_open_states_are_those_with_a_way_out():
    assert {s for s in JobState if s.is_open} == {s for s, nxt in TRANSITIONS.items() if nxt}
