"""The ledger's roles (bot/storage/roles/): each backend offers every method of every role, with the
same signatures, and the roles together are exactly the interface the services use."""

from __future__ import annotations

import inspect

import pytest

from bot.storage import SqliteStore, Store
from bot.storage.postgres.store import PostgresStore
from bot.storage.roles import ROLES

ROLE_METHODS = sorted({(role.__name__, name) for role in ROLES for name in vars(role)
                       if not name.startswith("_") and callable(getattr(role, name))})


def test_the_roles_together_are_the_ledger_the_services_know():
    methods = {name for _, name in ROLE_METHODS}
    assert methods == {"close", "now", "snapshot", "reserve", "mark_running", "succeed", "fail", "recover_interrupted",
                       "audit", "set_allowance", "grant", "reset_usage", "record_view", "admin_actions", "recent_jobs",
                       "job", "enqueue", "claim", "requeue", "cancel", "queue_positions", "median_seconds",
                       "expire_waiting", "set_result_message", "history", "forget_member", "forget_older_than",
                       "guild_rules", "put_rule", "remove_rule", "clear_rules", "set_budget", "record_action",
                       "guild_usage",
                       # approval mode and reports
                       "open_review", "set_review_message", "set_review_detail", "drop_review", "review",
                       "open_reviews", "reported_by", "decide_review", "reopen_review",
                       # appeals and the audit feed
                       "create_appeal", "appeal", "ask_appeal", "reopen_appeal", "appeal_posted", "decide_appeal",
                       "set_appeal_job", "unposted_guilds", "claim_audit", "mark_audit_posted", "release_audit",
                       "skip_audit", "audit_log",
                       # job leases
                       "renew", "singleton",
                       # jobs left by a dead process, or by a claim whose answer was lost
                       "fail_worn_out", "requeue_orphans",
                       # the cost of a job: claims in batches, one look before posting, one settle, no polling
                       "claim_batch", "delivering", "settle_delivered", "watch_audit",
                       # batches and members' defaults (/imagine, /settings)
                       "enqueue_batch", "batch", "member_defaults", "members_with_defaults", "set_member_default", "reset_member_defaults",
                       # one writer of a batch's message at a time, across processes
                       "hold_batch", "release_batch"}
    assert set(ROLES) <= set(Store.__mro__), "the store is every role"


def test_a_method_in_two_roles_is_the_same_method():
    by_name: dict[str, inspect.Signature] = {}
    for role, name in ROLE_METHODS:
        signature = inspect.signature(getattr(next(r for r in ROLES if r.__name__ == role), name))
        assert by_name.setdefault(name, signature) == signature, (role, name)


@pytest.mark.parametrize("backend", [SqliteStore, PostgresStore])
@pytest.mark.parametrize(("role", "name"), ROLE_METHODS)
def test_each_backend_has_each_role_s_method_with_the_same_signature(backend, role, name):
    declared = getattr(next(r for r in ROLES if r.__name__ == role), name)
    expected, actual = inspect.signature(declared), inspect.signature(getattr(backend, name))
    assert list(actual.parameters) == list(expected.parameters)
    for param in expected.parameters.values():
        other = actual.parameters[param.name]
        assert (other.kind, other.default) == (param.kind, param.default), (name, param.name)
    assert inspect.iscoroutinefunction(getattr(backend, name)) == inspect.iscoroutinefunction(declared)
