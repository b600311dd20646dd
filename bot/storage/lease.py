"""Who holds a running job: the lease a process takes with the claim and renews while the call runs.

Several processes share one queue (PostgreSQL). A process that dies stops renewing; once its
leases expire another process's claim takes the jobs over, as an interrupted attempt (part 5's rule:
run once more, a second time fail and refund). Every settle is guarded on the lease, so a process
that lost a job (stalled past its lease, then woke) cannot overwrite the new holder's outcome.

A process never takes over a lease of its own: a job whose lease it could not renew (the ledger
was down) is still its own, still running or waiting for its settle to land.

The owner id starts with the bot's instance id (kept in DATA_DIR, bot/core/instance_lock.py): one
process at a time owns a DATA_DIR, so a process that starts with the same instance id is its
predecessor's successor, and takes that one's leases at once instead of waiting for them to expire.
"""

from __future__ import annotations

import os
import secrets
import socket

DEFAULT_LEASE_SECONDS = 30.0  # JOB_LEASE_SECONDS' default; the store's when a caller gives none
INSTANCE_SEPARATOR = "/"


def new_owner(instance: str | None = None) -> str:
    """A process's lease owner id: random, so a restarted process (same host, maybe the same pid in a
    container) is never mistaken for the one that died; host and pid only make the logs readable.
    `instance` (letters and digits) prefixes it: "instance/host:pid:random"."""
    owner = f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(4)}"
    return f"{instance}{INSTANCE_SEPARATOR}{owner}" if instance else owner


def instance_of(owner: str) -> str | None:
    """The instance id an owner id starts with; None for one without (tests, older versions)."""
    head, sep, _ = owner.partition(INSTANCE_SEPARATOR)
    return head if sep and head.isalnum() else None


def same_instance_pattern(owner: str) -> str | None:
    """A LIKE pattern matching every owner id of `owner`'s instance (its predecessors'); None without one."""
    instance = instance_of(owner)
    return None if instance is None else f"{instance}{INSTANCE_SEPARATOR}%"
