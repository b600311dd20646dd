"""Who holds a running job: the lease a process takes with the claim and renews while the call runs.

Several processes share one queue (PostgreSQL). A process that dies stops renewing; once its
leases expire another process's claim takes the jobs over, as an interrupted attempt (part 5's rule:
run once more, a second time fail and refund). Every settle is guarded on the lease, so a process
that lost a job (stalled past its lease, then woke) cannot overwrite the new holder's outcome.
"""

from __future__ import annotations

import os
import secrets
import socket

DEFAULT_LEASE_SECONDS = 30.0  # JOB_LEASE_SECONDS' default; the store's when a caller gives none


def new_owner() -> str:
    """A process's lease owner id: random, so a restarted process (same host, maybe the same pid in a
    container) is never mistaken for the one that died; host and pid only make the logs readable."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(4)}"
