"""Both backends offer exactly the interface the services use, with the same signatures."""

from __future__ import annotations

import inspect

import pytest

from bot.storage import SqliteStore, Store
from bot.storage.postgres.store import PostgresStore

METHODS = sorted(name for name in vars(Store) if not name.startswith("_") and callable(getattr(Store, name)))


# Part 8: appeals and the audit feed (one block at the end of the Protocol).
APPEALS_AND_AUDIT = ["create_appeal", "appeal", "ask_appeal", "reopen_appeal", "appeal_posted", "decide_appeal",
                     "set_appeal_job", "unposted_guilds", "claim_audit", "mark_audit_posted", "release_audit",
                     "skip_audit", "audit_log"]


def test_the_interface_is_the_ledger_the_services_know():
    assert METHODS == sorted(APPEALS_AND_AUDIT + ["close", "now", "snapshot", "reserve", "mark_running", "succeed", "fail",
                              "recover_interrupted", "audit", "set_allowance", "grant", "reset_usage", "record_view",
                              "admin_actions", "recent_jobs", "job", "enqueue", "claim", "requeue", "cancel",
                              "queue_positions", "median_seconds", "expire_waiting", "set_result_message",
                              "history", "forget_member", "forget_older_than", "guild_rules", "put_rule",
                              "remove_rule", "clear_rules", "set_budget", "record_action", "guild_usage",
                              # part 8: approval mode and reports
                              "open_review", "set_review_message", "set_review_detail", "drop_review", "review",
                              "open_reviews", "reported_by", "decide_review", "reopen_review",
                              # part 9: job leases
                              "renew", "singleton",
                              # jobs left by a dead process, or by a claim whose answer was lost
                              "fail_worn_out", "requeue_orphans"])


@pytest.mark.parametrize("backend", [SqliteStore, PostgresStore])
@pytest.mark.parametrize("name", METHODS)
def test_each_backend_has_the_method_with_the_same_signature(backend, name):
    expected, actual = inspect.signature(getattr(Store, name)), inspect.signature(getattr(backend, name))
    assert list(actual.parameters) == list(expected.parameters)
    for param in expected.parameters.values():
        other = actual.parameters[param.name]
        assert (other.kind, other.default) == (param.kind, param.default), (name, param.name)
    assert inspect.iscoroutinefunction(getattr(backend, name)) == inspect.iscoroutinefunction(getattr(Store, name))
