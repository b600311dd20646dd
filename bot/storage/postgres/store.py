"""The PostgreSQL ledger, through asyncpg and a connection pool: for installs that outgrow one process.

Same tables, same rules as the SQLite ledger: credits are never a stored balance, every credit spent
is a `jobs` row, the daily totals are kept by triggers in the same transaction as the rows
(migration 0004), and `PostgresStore.audit()` recomputes them from the rows.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import time
import zlib
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import replace
from typing import Any

import asyncpg

from bot.core.database_url import DatabaseUrl
from bot.domain import (
    OPEN_STATES,
    JobState,
    Member,
    QuotaSnapshot,
    Refused,
    StoreBusy,
    StoreDown,
    WriteInDoubt,
    next_renewal,
    utc_day,
)
from bot.domain.appeals import AppealStatus
from bot.domain.audit import AuditAction
from bot.domain.delivery import Delivery
from bot.domain.errors import StoreMisconfigured, StoreUnavailable
from bot.domain.jobs import REFUNDED_STATES, sources_of
from bot.domain.records import AdminAction, AppealRecord, AuditRow, GuildRule, JobRecord, UsageRow
from bot.domain.reviews import DECISIONS, AlreadyReviewed, Decision, ReviewKind, ReviewRecord, ReviewState
from bot.domain.rules import RuleKind, RuleLimit
from bot.storage.base import (
    EXPIRED,
    INTERRUPTED,
    MAX_ATTEMPTS,
    check_fits,
    config_action,
    recovered,
    settled_as,
)
from bot.storage.lease import DEFAULT_LEASE_SECONDS, new_owner, same_instance_pattern
from bot.storage.outage import Outage
from bot.storage.postgres.migrations import apply_migrations
from bot.storage.records import (
    admin_action,
    appeal_record,
    audit_row,
    defaults_of,
    encode_delivery,
    guild_rule,
    job_record,
    job_records,
    review_record,
    usage_row,
)

log = logging.getLogger(__name__)

_OPEN = [str(s) for s in OPEN_STATES]
# What forgetting clears; params is NOT NULL (the body sent to Pixazo), so it becomes an empty object.
_FORGET_SETS = "params = '{}', inputs = NULL, result_url = NULL, delivery = NULL, interaction_token = NULL"
# A review of a forgotten job: a decided one needs its saved result embed no more; a pending one keeps only
# what shows the image again (title, image, footer), not the prompt, settings or requester.
_FORGET_REVIEW = ("detail = CASE WHEN status = 'pending' THEN (detail::jsonb #- '{embed,description}'"
                  " #- '{embed,fields}' #- '{embed,author}' #- '{embed,thumbnail}')::text END")
_REFUNDED = ", ".join(f"'{s}'" for s in REFUNDED_STATES)
_QUEUED = JobState.QUEUED.value
_RUNNING = JobState.RUNNING.value
_AUDIT_COLUMNS = "id, guild_id, actor_id, action, target_id, detail, at"

# Every claim, from every process, takes this transaction lock first: the count of live leases and the
# claim that follows it are then one step, so two processes can never both take the last free slot of
# PIXAZO_MAX_CONCURRENCY. Two int4 keys beside MIGRATION_LOCK's (0x7078, 1) and the cap's (0x7078, 2).
CLAIM_LOCK = (0x7078, 3)
SINGLETON_LOCK = 0x7079  # the first int4 key of `singleton(name)`'s locks; the second is the name's CRC
# One statement after the lock. The next job by fair rank then id is a queued one or a running one whose
# holder's lease ran out (its process is presumed dead; never the claimer's own, bot/storage/lease.py)
# with an attempt left; it is taken only while fewer than $4 (NULL: no bound) jobs hold a live lease.
_CLAIM_SQL = f"""
WITH next AS (
  SELECT id FROM (
    (SELECT id, rank FROM jobs WHERE state = '{_QUEUED}' ORDER BY rank, id LIMIT 1)
    UNION ALL
    (SELECT id, rank FROM jobs WHERE state = '{_RUNNING}' AND lease_until < $1 AND delivery IS NOT NULL
       AND attempts < {MAX_ATTEMPTS} AND lease_owner <> $2 ORDER BY rank, id LIMIT 1)
  ) AS candidates ORDER BY rank, id LIMIT 1
)
UPDATE jobs SET state = '{_RUNNING}', started_at = $1, attempts = attempts + 1, lease_owner = $2, lease_until = $3
 WHERE id = (SELECT id FROM next)
   AND ($4::bigint IS NULL
        OR (SELECT COUNT(*) FROM jobs WHERE state = '{_RUNNING}' AND lease_until >= $1) < $4::bigint)
 RETURNING *
"""
# A running job whose lease ran out during its last allowed attempt, not $2's own: failed, refunded (part
# 5's rule). The rows come back as they were (a CTE reads the snapshot before the UPDATE), tokens included.
_WORN_OUT_SQL = f"""
WITH worn AS (
  SELECT * FROM jobs WHERE state = '{_RUNNING}' AND lease_until < $1 AND attempts >= {MAX_ATTEMPTS}
     AND lease_owner <> $2 FOR UPDATE SKIP LOCKED
), failed AS (
  UPDATE jobs SET state = '{JobState.FAILED.value}', error = $3, finished_at = $1, interaction_token = NULL
   WHERE id IN (SELECT id FROM worn) RETURNING id
)
SELECT * FROM worn WHERE id IN (SELECT id FROM failed) ORDER BY id
"""

_SNAPSHOT_SQL = "SELECT * FROM quota_snapshot($1, $2, $3, $4, $5)"  # migration 0004
_RESERVE_SQL = "SELECT * FROM reserve_job($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
_NO_LIMIT = 2**62  # a batch's later images: the batch counted once toward QUOTA_MAX_JOBS_PER_USER
_REASONS = {Refused.JOBS: Refused.JOBS, Refused.CREDITS: Refused.CREDITS, Refused.GLOBAL: Refused.GLOBAL,
            Refused.BUDGET: Refused.BUDGET}

_RECORD = "INSERT INTO admin_actions (guild_id, actor_id, action, target_id, detail, at) VALUES ($1, $2, $3, $4, $5, $6)"

# Every member and server total the triggers keep, against the sum of the rows. There is no whole-day total row
# on PostgreSQL (see migration 0004): the day's global use is always summed from these.
_AUDIT_SQL = f"""
WITH ledger AS (
  SELECT guild_id, user_id, day, SUM(CASE WHEN state NOT IN ({_REFUNDED}) THEN cost ELSE 0 END) AS credits
  FROM jobs GROUP BY guild_id, user_id, day
), ledger_guild AS (
  SELECT guild_id, day, SUM(credits) AS credits FROM ledger GROUP BY guild_id, day
)
SELECT 'member', l.guild_id || '/' || l.user_id || '/' || l.day, COALESCE(u.credits, 0), l.credits
  FROM ledger AS l LEFT JOIN usage AS u USING (guild_id, user_id, day)
  WHERE COALESCE(u.credits, 0) != l.credits
UNION ALL
SELECT 'member', u.guild_id || '/' || u.user_id || '/' || u.day, u.credits, 0
  FROM usage AS u LEFT JOIN ledger AS l USING (guild_id, user_id, day)
  WHERE l.credits IS NULL AND u.credits != 0
UNION ALL
SELECT 'server', l.guild_id || '/' || l.day, COALESCE(s.credits, 0), l.credits
  FROM ledger_guild AS l LEFT JOIN usage_guild AS s USING (guild_id, day)
  WHERE COALESCE(s.credits, 0) != l.credits
UNION ALL
SELECT 'server', s.guild_id || '/' || s.day, s.credits, 0
  FROM usage_guild AS s LEFT JOIN ledger_guild AS l USING (guild_id, day)
  WHERE l.credits IS NULL AND s.credits != 0
"""

# Days are ISO dates, so text order is date order and `day >= $2` is a range on the index.
# SUM over INTEGER is BIGINT and COUNT is BIGINT: both come back as Python ints.
_USAGE_SQL = ("SELECT day, model, user_id, SUM(cost) AS credits, COUNT(*) AS jobs FROM jobs"
              f" WHERE guild_id = $1 AND day >= $2 AND state NOT IN ({_REFUNDED})"
              " GROUP BY day, model, user_id ORDER BY day, model, user_id")

# What the operator must change before a start can succeed, and what to tell them; anything else (refused,
# unreachable, starting up, too many connections) may pass on its own and is worth a restart.
_FIX_FIRST: tuple[tuple[type[BaseException], str], ...] = (
    (asyncpg.InvalidPasswordError, "the password is wrong"),
    (asyncpg.InvalidAuthorizationSpecificationError, "the server does not let this user in (no such role, or "
                                                     "pg_hba.conf has no entry for it)"),
    (asyncpg.InvalidCatalogNameError, "there is no database of that name; create it or correct the name"),
    (asyncpg.InsufficientPrivilegeError, "the user lacks a right the ledger needs (creating its tables, say)"),
    (asyncpg.ClientConfigurationError, "asyncpg cannot use these connection settings"),
)


def _refused(where: DatabaseUrl, what: str, exc: BaseException) -> StoreUnavailable:
    """One line for a failed connect or set-up: StoreMisconfigured when the operator must fix DATABASE_URL
    or the server's set-up, StoreUnavailable when trying again later may work. Never the password."""
    said = where.scrub(f"{type(exc).__name__}: {exc}")
    for kind, hint in _FIX_FIRST:
        if isinstance(exc, kind):
            return StoreMisconfigured(f"{what} ({where}): {hint}: {said}")
    if isinstance(exc, socket.gaierror) and exc.errno in (socket.EAI_NONAME, getattr(socket, "EAI_NODATA", None)):
        return StoreMisconfigured(f"{what} ({where}): the host name {where.host!r} is not known; correct it: {said}")
    return StoreUnavailable(f"{what} ({where}): {said}")


_BUSY = (asyncpg.LockNotAvailableError, asyncpg.DeadlockDetectedError, asyncpg.SerializationError,
         asyncpg.TooManyConnectionsError)
# The server can't take writes right now: it can't be reached, is starting, stopping or restarting, or
# its disk is full or it is read-only (a standby). OSError covers a refused or reset connection.
_DOWN = (OSError, asyncpg.PostgresConnectionError, asyncpg.CannotConnectNowError, asyncpg.AdminShutdownError,
         asyncpg.CrashShutdownError, asyncpg.DiskFullError, asyncpg.ReadOnlySQLTransactionError)


def _is_down(exc: BaseException) -> bool:
    if isinstance(exc, _DOWN):
        return True
    # asyncpg's own word for a connection that was already closed under it (the server went away).
    return isinstance(exc, asyncpg.InterfaceError) and "connection is closed" in str(exc)


def _is_lost(exc: BaseException) -> bool:
    """The connection broke with a statement in flight: the server may have committed it. An answer
    from the server (shutting down, disk full, read-only) means it did not."""
    return not isinstance(exc, asyncpg.PostgresError) or isinstance(exc, asyncpg.PostgresConnectionError)


def _why(exc: BaseException, where: DatabaseUrl | None) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    line = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return where.scrub(line) if where is not None else line


def _quota(row: asyncpg.Record, now: float, default_allowance: int) -> QuotaSnapshot:
    allowance, source = next(
        (value, name)
        for value, name in ((row["by_member"], "member"), (row["by_role"], "role"), (row["by_guild"], "server default"),
                            (default_allowance, "bot default"))
        if value is not None
    )
    return QuotaSnapshot(allowance, source, row["granted"], row["used"], row["in_flight"], row["global_used"],
                         next_renewal(now), row["guild_used"], row["guild_budget"])


def _spent(snap: QuotaSnapshot, cost: int) -> QuotaSnapshot:
    return replace(snap, used=snap.used + cost, in_flight=snap.in_flight + 1, global_used=snap.global_used + cost,
                   guild_used=snap.guild_used + cost)


async def _lock_config(conn: asyncpg.Connection, guild_id: int, kind: RuleKind) -> None:
    # Held to the end of the transaction: changes to one server's entries of one kind, from any process,
    # take turns, so the limit's count and "already exactly so" are read with nothing else half-done.
    # Two int4 keys, a class beside MIGRATION_LOCK's; a hash collision only makes two servers wait.
    await conn.execute("SELECT pg_advisory_xact_lock(28793, hashtext($1::bigint::text || '/' || $2))",
                       guild_id, kind.value)


async def _lock_member(conn: asyncpg.Connection, user_id: int) -> None:
    # Held to the end of the transaction: one member's reservations, from any process, take turns.
    await conn.execute("SELECT pg_advisory_xact_lock($1)", user_id)


async def _keep_session(conn: asyncpg.Connection) -> None:
    """The pool's reset on release: nothing to undo. The store sets no session state, holds only
    transaction-level locks and opens no cursors, and asyncpg still rolls back a transaction left
    open; its default reset query would be one more round trip on every call."""


class PostgresStore:
    """A pool of connections; every method is one transaction on one of them.

    Concurrency: a reservation takes a transaction-level advisory lock on the member (and, when a
    global cap is set, one on the cap) before it reads what the member has left, and holds it until
    COMMIT; in a server with a budget it also locks the server's budget row, between the two, so that
    server's reservations take turns over its daily total. Reservations for the same member therefore queue instead of interleaving, from any number
    of pools or processes; other members run in parallel. Chosen over SERIALIZABLE with retry because
    one member's concurrent commands are exactly the case that conflicts: under SERIALIZABLE they
    would abort and retry each other in a loop, where a lock lets each wait its turn once. A lock, not
    a row lock on the member's `usage` row, because the first reservation of a day has no row yet and
    the in-flight cap counts the member's jobs across every server.
    """

    def __init__(self, pool: asyncpg.Pool, clock: Callable[[], float], busy_timeout: float, *,
                 owner: str | None = None, where: DatabaseUrl | None = None) -> None:
        self._pool = pool
        self._clock = clock
        self._busy_timeout = busy_timeout
        self.owner = owner or new_owner()  # this process's id on the leases it takes (bot/storage/lease.py)
        self._where = where
        self.outage = Outage(f"the PostgreSQL ledger {where}" if where else "the PostgreSQL ledger")
        self.interrupted: list[JobRecord] = []  # failed by recovery at start: their members are told (queue)

    @classmethod
    async def open(cls, url: str, *, pool_size: int = 10, clock: Callable[[], float] = time.time,
                   busy_timeout: float = 5.0, delivered: Mapping[int, str | None] | None = None,
                   recover: bool = True, connect_timeout: float = 10.0, owner: str | None = None) -> PostgresStore:
        """Connect, migrate, open a pool and recover (as SqliteStore.open); StoreUnavailable (one line,
        no password) when the server cannot be reached or the ledger cannot be set up, StoreMisconfigured
        when that is DATABASE_URL's fault or the server's set-up (see _FIX_FIRST)."""
        where = DatabaseUrl.parse(url)  # StoreUnavailable when malformed
        try:
            conn = await asyncpg.connect(url, timeout=connect_timeout)
        except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise _refused(where, "could not connect to the PostgreSQL server in DATABASE_URL", exc) from None
        try:
            await apply_migrations(conn)
            # min_size=0: no floor of connections for asyncpg to restore, with a traceback a try, while
            # the server is down; connections are opened as calls need them and kept while in use.
            # Commits are durable (the server's synchronous_commit, on by default): with it off, a
            # server that crashed or was stopped at once (`pg_ctl stop -m immediate`) loses the last
            # fraction of a second of commits the bot was told had landed: a claim (the job then runs
            # twice), a settle, a reservation of a job already running.
            pool = await asyncpg.create_pool(
                url, min_size=0, max_size=pool_size, timeout=connect_timeout, reset=_keep_session,
                server_settings={
                    # A wait for a member's lock past the busy timeout becomes StoreBusy.
                    "lock_timeout": f"{int(busy_timeout * 1000)}ms",
                    "application_name": "pixazo-bot",
                })
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            # Say, a user that may not create tables: the migration's own message says which.
            raise _refused(where, "could not set up the ledger in the DATABASE_URL database", exc) from None
        finally:
            await conn.close()
        store = cls(pool, clock, busy_timeout, owner=owner, where=where)
        return await recovered(store, delivered, recover=recover)

    async def close(self) -> None:
        await self._pool.close()

    def now(self) -> float:
        return self._clock()

    @asynccontextmanager
    async def _conn(self, *, in_doubt: bool = True) -> AsyncIterator[asyncpg.Connection]:
        """A pooled connection for one write (`in_doubt`: a connection lost while it runs may have
        committed it: WriteInDoubt) or, with in_doubt=False, for reads or an uncommitted transaction."""
        try:
            # asyncio.timeout, not acquire(timeout=): that wraps every acquire in a task of its own.
            async with asyncio.timeout(self._busy_timeout):
                conn = await self._pool.acquire()
        except TimeoutError:
            raise StoreBusy(f"no database connection free within {self._busy_timeout:g} s") from None
        except Exception as exc:
            if not _is_down(exc):
                raise
            # Nothing was sent: the server could not be reached, or is starting or stopping.
            self.outage.failed(_why(exc, self._where))
            raise StoreDown(_why(exc, self._where)) from None
        try:
            yield conn
        except _BUSY as exc:
            raise StoreBusy(f"the database is busy ({type(exc).__name__})") from None
        except Exception as exc:
            if not _is_down(exc):
                raise
            if in_doubt and _is_lost(exc):
                self.outage.in_doubt(_why(exc, self._where))
                raise WriteInDoubt(_why(exc, self._where)) from None
            self.outage.failed(_why(exc, self._where))
            raise StoreDown(_why(exc, self._where)) from None
        else:
            if in_doubt:
                self.outage.wrote()
        finally:
            with contextlib.suppress(Exception):  # a broken connection: the pool replaces it
                await self._pool.release(conn)

    def _read(self) -> AbstractAsyncContextManager[asyncpg.Connection]:
        return self._conn(in_doubt=False)

    @asynccontextmanager
    async def _write(self) -> AsyncIterator[asyncpg.Connection]:
        """A transaction: what fails inside it was never committed (the server rolls back a transaction
        whose connection dies); only losing the connection during the COMMIT leaves it in doubt."""
        async with self._conn(in_doubt=False) as conn:
            transaction = conn.transaction()
            await transaction.start()
            try:
                yield conn
            except BaseException:
                with contextlib.suppress(Exception):  # a lost connection: the server rolled it back already
                    if not conn.is_closed():
                        await transaction.rollback()
                raise
            try:
                await transaction.commit()
            except Exception as exc:
                if _is_down(exc) and _is_lost(exc):
                    self.outage.in_doubt(_why(exc, self._where))
                    raise WriteInDoubt(_why(exc, self._where)) from None
                raise
        self.outage.wrote()

    # -- quotas -------------------------------------------------------------------------------

    async def snapshot(self, member: Member, *, default_allowance: int) -> QuotaSnapshot:
        now = self.now()
        async with self._read() as conn:
            row = await conn.fetchrow(_SNAPSHOT_SQL, member.guild_id, member.user_id, list(member.role_ids),
                                      utc_day(now), _OPEN)
        return _quota(row, now, default_allowance)

    async def reserve(self, member: Member, *, channel_id: int | None, model: str, params: dict[str, Any],
                      cost: int, default_allowance: int, max_jobs: int, global_cap: int | None,
                      inputs: dict[str, Any] | None = None) -> tuple[int, QuotaSnapshot]:
        """Check the allowance and spend from it in one transaction; raise Refused when it won't fit.

        One call of reserve_job (migration 0004): the member's lock, the snapshot, the checks and the
        INSERT in one implicit transaction and one round trip."""
        now = self.now()
        async with self._conn() as conn:
            row = await conn.fetchrow(
                _RESERVE_SQL, member.guild_id, member.user_id, list(member.role_ids), utc_day(now), _OPEN,
                default_allowance, max_jobs, global_cap, cost, channel_id, model, json.dumps(params),
                str(JobState.RESERVED), now, None if inputs is None else json.dumps(inputs))
        snap = _quota(row, now, default_allowance)
        if row["refused"] is not None:
            raise Refused(_REASONS[row["refused"]], snap)
        return row["job_id"], _spent(snap, cost)

    async def enqueue(self, member: Member, *, channel_id: int | None, model: str, params: dict[str, Any],
                      cost: int, default_allowance: int, max_jobs: int, global_cap: int | None, max_queue: int,
                      delivery: Delivery, token: str | None,
                      inputs: dict[str, Any] | None = None) -> tuple[int, QuotaSnapshot]:
        """reserve_job inserts the row queued; the same transaction adds what delivering it needs.

        The queue's length is checked first, in this transaction but without a lock: processes sharing
        the database may overshoot QUEUE_MAX_LENGTH by as many as reserve at the same instant."""
        now = self.now()
        async with self._write() as conn:
            waiting = await conn.fetchval("SELECT COUNT(*) FROM jobs WHERE state = $1", _QUEUED)
            if waiting >= max_queue:
                snap_row = await conn.fetchrow(_SNAPSHOT_SQL, member.guild_id, member.user_id,
                                               list(member.role_ids), utc_day(now), _OPEN)
                raise Refused(Refused.QUEUE, _quota(snap_row, now, default_allowance))
            row = await conn.fetchrow(
                _RESERVE_SQL, member.guild_id, member.user_id, list(member.role_ids), utc_day(now), _OPEN,
                default_allowance, max_jobs, global_cap, cost, channel_id, model, json.dumps(params),
                _QUEUED, now, None if inputs is None else json.dumps(inputs))
            snap = _quota(row, now, default_allowance)
            if row["refused"] is not None:
                raise Refused(_REASONS[row["refused"]], snap)
            # rank: the member's open jobs, all ahead of this one (in_flight counts exactly those).
            await conn.execute("UPDATE jobs SET delivery = $2, interaction_token = $3, rank = $4 WHERE id = $1",
                               row["job_id"], encode_delivery(delivery), token, snap.in_flight)
        return row["job_id"], _spent(snap, cost)

    async def enqueue_batch(self, member: Member, *, channel_id: int | None, model: str,
                            params: list[dict[str, Any]], cost: int, default_allowance: int, max_jobs: int,
                            global_cap: int | None, max_queue: int, deliveries: list[Delivery],
                            token: str | None) -> list[int]:
        """reserve_job for each image in one transaction: the first takes the member's and the server's
        locks (held to the end), and the batch's whole cost is checked against its snapshot; a refusal
        anywhere rolls back all of it."""
        now = self.now()
        day = utc_day(now)
        ids: list[int] = []
        async with self._write() as conn:
            waiting = await conn.fetchval("SELECT COUNT(*) FROM jobs WHERE state = $1", _QUEUED)
            first: QuotaSnapshot | None = None
            for index, (body, delivery) in enumerate(zip(params, deliveries, strict=True)):
                row = await conn.fetchrow(
                    _RESERVE_SQL, member.guild_id, member.user_id, list(member.role_ids), day, _OPEN,
                    default_allowance, max_jobs if first is None else _NO_LIMIT, global_cap, cost, channel_id,
                    model, json.dumps(body), _QUEUED, now, None)
                snap = _quota(row, now, default_allowance)
                if first is None:
                    first = snap
                    if waiting + len(params) > max_queue:
                        raise Refused(Refused.QUEUE, snap)
                    check_fits(snap, cost * len(params), max_jobs, global_cap)
                if row["refused"] is not None:
                    raise Refused(_REASONS[row["refused"]], first)
                ids.append(row["job_id"])
                await conn.execute("UPDATE jobs SET delivery = $2, interaction_token = $3, rank = $4, batch_id = $5"
                                   " WHERE id = $1", row["job_id"], encode_delivery(delivery), token,
                                   first.in_flight + index, ids[0])
        return ids

    async def claim(self, owner: str | None = None, lease_seconds: float = DEFAULT_LEASE_SECONDS,
                    max_running: int | None = None) -> JobRecord | None:
        now = self.now()
        async with self._write() as conn:
            await conn.execute("SELECT pg_advisory_xact_lock($1, $2)", *CLAIM_LOCK)
            row = await conn.fetchrow(_CLAIM_SQL, now, owner or self.owner, now + lease_seconds, max_running)
        return None if row is None else job_record(row)

    async def fail_worn_out(self) -> list[JobRecord]:
        async with self._write() as conn:
            rows = await conn.fetch(_WORN_OUT_SQL, self.now(), self.owner, INTERRUPTED)
        return job_records(rows)

    async def requeue_orphans(self, running: list[int]) -> list[int]:
        async with self._conn() as conn:
            rows = await conn.fetch("UPDATE jobs SET state = $1, started_at = NULL, attempts = GREATEST(0, attempts - 1),"
                                    " lease_owner = NULL, lease_until = NULL WHERE state = $2 AND lease_owner = $3"
                                    " AND NOT (id = ANY($4::bigint[])) RETURNING id", _QUEUED, _RUNNING, self.owner,
                                    running)
        return sorted(r[0] for r in rows)

    async def requeue(self, job_id: int) -> JobState | None:
        async with self._conn() as conn:
            await conn.execute("UPDATE jobs SET state = $1, started_at = NULL, attempts = GREATEST(0, attempts - 1),"
                               " lease_owner = NULL, lease_until = NULL WHERE id = $2 AND state = $3"
                               " AND (lease_owner IS NULL OR lease_owner = $4)", _QUEUED, job_id, _RUNNING, self.owner)
            now = await conn.fetchval("SELECT state FROM jobs WHERE id = $1", job_id)
        return None if now is None else JobState(now)

    async def cancel(self, job_id: int, actor_id: int) -> tuple[JobState | None, JobState | None]:
        from_states = [s.value for s in sources_of(JobState.CANCELLED)]
        async with self._write() as conn:
            before = await conn.fetchval("SELECT state FROM jobs WHERE id = $1 FOR UPDATE", job_id)
            if before is None:
                return None, None
            after = await conn.fetchval(
                "UPDATE jobs SET state = $1, finished_at = $2, cancelled_by = $3, interaction_token = NULL"
                " WHERE id = $4 AND state = ANY($5::text[]) RETURNING state",
                JobState.CANCELLED.value, self.now(), actor_id, job_id, from_states)
        return JobState(before), JobState(after or before)

    async def queue_positions(self) -> dict[int, int]:
        async with self._read() as conn:
            rows = await conn.fetch("SELECT id, ROW_NUMBER() OVER (ORDER BY rank, id) FROM jobs WHERE state = $1",
                                    _QUEUED)
        return {r[0]: r[1] for r in rows}

    async def median_seconds(self, model: str, recent: int = 20) -> float | None:
        async with self._read() as conn:
            rows = await conn.fetch("SELECT finished_at - started_at FROM jobs WHERE model = $1 AND state = $2"
                                    " AND started_at IS NOT NULL ORDER BY id DESC LIMIT $3",
                                    model, JobState.SUCCEEDED.value, recent)
        times = sorted(r[0] for r in rows if r[0] is not None)
        return times[len(times) // 2] if times else None

    async def expire_waiting(self, queued_before: float) -> list[JobRecord]:
        async with self._write() as conn:
            rows = await conn.fetch("SELECT * FROM jobs WHERE state = $1 AND created_at < $2 FOR UPDATE SKIP LOCKED",
                                    _QUEUED, queued_before)
            await conn.execute("UPDATE jobs SET state = $1, finished_at = $2, error = $3, interaction_token = NULL"
                               " WHERE id = ANY($4::bigint[]) AND state = $5", JobState.FAILED.value, self.now(),
                               EXPIRED, [r["id"] for r in rows], _QUEUED)
        return job_records(rows)

    async def mark_running(self, job_id: int) -> JobState | None:
        return await self._settle(job_id, JobState.RUNNING, "started_at = $4", self.now())

    async def succeed(self, job_id: int, result_url: str | None) -> JobState | None:
        return await self._settle(job_id, JobState.SUCCEEDED,
                                  "finished_at = $4, result_url = $5, interaction_token = NULL", self.now(), result_url)

    async def fail(self, job_id: int, error: str) -> JobState | None:
        return await self._settle(job_id, JobState.FAILED, "finished_at = $4, error = $5, interaction_token = NULL",
                                  self.now(), error[:1000])

    async def _settle(self, job_id: int, state: JobState, sets: str, *values: Any) -> JobState | None:
        """Move the job to `state` if the state machine allows it; return the state it is in afterwards."""
        from_states = [s.value for s in sources_of(state)]
        held = f"${4 + len(values)}"  # the lease guard: a process that lost the job leaves it to the new holder
        # One statement either way: the UPDATE when the guard lets it through, else the row as it is.
        sql = (f"WITH moved AS (UPDATE jobs SET state = $1, {sets} WHERE id = $2 AND state = ANY($3::text[])"
               f" AND (lease_owner IS NULL OR lease_owner = {held})"
               " RETURNING state) SELECT state FROM moved UNION ALL SELECT state FROM jobs"
               " WHERE id = $2 AND NOT EXISTS (SELECT FROM moved)")
        async with self._conn() as conn:
            now = await conn.fetchval(sql, state.value, job_id, from_states, *values, self.owner)
        return settled_as(job_id, state, now)

    async def recover_interrupted(self, delivered: Mapping[int, str | None] | None = None) -> list[JobRecord]:
        """Settle what the last run left open: `delivered` jobs succeed, every other open job fails.

        One transaction, so a delivered job can never be refunded by the second step. Returns the jobs
        it failed (refunded), as they were: their members are told (the queue, once it starts)."""
        now = self.now()
        # Only what this process held or its predecessor on the same DATA_DIR did (or a row without a
        # lease: older versions, in-process jobs): a job another live process holds is its own, and one
        # whose lease expired is taken over by the next claim.
        mine = "(lease_owner IS NULL OR lease_owner = $1 OR lease_owner LIKE $2)"
        pattern = same_instance_pattern(self.owner)  # None without an instance id: LIKE NULL matches nothing
        async with self._write() as conn:
            succeeded = 0
            for job_id, url in (delivered or {}).items():
                status = await conn.execute(
                    "UPDATE jobs SET state = $1, finished_at = $2, result_url = COALESCE($3, result_url)"
                    " WHERE id = $4 AND state = ANY($5::text[])", JobState.SUCCEEDED.value, now, url, job_id, _OPEN)
                succeeded += int(status.split()[-1])
            # A queued job's call cut short runs once more; queued jobs simply stay queued.
            await conn.execute("UPDATE jobs SET state = $3, started_at = NULL, lease_owner = NULL, lease_until = NULL"
                               f" WHERE state = $4 AND delivery IS NOT NULL AND attempts < $5 AND {mine}",
                               self.owner, pattern, _QUEUED, _RUNNING, MAX_ATTEMPTS)
            failed = await conn.fetch(f"WITH left_open AS (SELECT * FROM jobs WHERE state = ANY($3::text[]) AND state <> $4"
                                      f" AND {mine} FOR UPDATE), failed AS (UPDATE jobs SET state = $5, error = $6,"
                                      " finished_at = $7, interaction_token = NULL WHERE id IN (SELECT id FROM left_open)"
                                      " RETURNING id) SELECT * FROM left_open WHERE id IN (SELECT id FROM failed) ORDER BY id",
                                      self.owner, pattern, _OPEN, _QUEUED, JobState.FAILED.value, INTERRUPTED, now)
        if succeeded:
            log.warning("recorded %d job(s) delivered before the last shutdown as succeeded", succeeded)
        return job_records(failed)

    async def audit(self) -> list[str]:
        """Where the trigger-kept totals disagree with the job rows; empty when the ledger is whole."""
        async with self._read() as conn:
            rows = await conn.fetch(_AUDIT_SQL)
        return [f"{kind} {key}: kept {kept}, ledger {actual}" for kind, key, kept, actual in rows]

    # -- admin --------------------------------------------------------------------------------

    async def set_allowance(self, guild_id: int, scope: str, target_id: int, credits: int | None, *,
                            actor_id: int) -> None:
        now = self.now()
        async with self._write() as conn:
            if credits is None:
                await conn.execute("DELETE FROM allowances WHERE guild_id = $1 AND scope = $2 AND target_id = $3",
                                   guild_id, scope, target_id)
            else:
                await conn.execute(
                    "INSERT INTO allowances (guild_id, scope, target_id, daily_credits) VALUES ($1, $2, $3, $4)"
                    " ON CONFLICT (guild_id, scope, target_id) DO UPDATE SET daily_credits = excluded.daily_credits",
                    guild_id, scope, target_id, credits)
            await conn.execute(_RECORD, guild_id, actor_id, f"allowance.{scope}", target_id or None,
                               json.dumps({"daily_credits": credits}), now)

    async def grant(self, guild_id: int, user_id: int, credits: int, *, actor_id: int) -> None:
        now = self.now()
        async with self._write() as conn:
            await conn.execute("INSERT INTO grants (guild_id, user_id, day, credits, granted_by, created_at)"
                               " VALUES ($1, $2, $3, $4, $5, $6)", guild_id, user_id, utc_day(now), credits,
                               actor_id, now)
            await conn.execute(_RECORD, guild_id, actor_id, "grant", user_id, json.dumps({"credits": credits}), now)

    async def reset_usage(self, guild_id: int, user_id: int, *, actor_id: int) -> None:
        now = self.now()
        async with self._write() as conn:
            # The member's lock: none of their reservations is half-done, so every job id at or below
            # MAX(id) that is theirs is already in `usage`, and every later one gets a higher id.
            await _lock_member(conn, user_id)
            # Forgive what is counted now; jobs made later count as usual.
            await conn.execute(
                "INSERT INTO usage_resets (guild_id, user_id, day, reset_at, forgiven, last_job_id)"
                " VALUES ($1, $2, $3, $4,"
                "   COALESCE((SELECT credits FROM usage WHERE guild_id = $1 AND user_id = $2 AND day = $3), 0),"
                "   (SELECT COALESCE(MAX(id), 0) FROM jobs))"
                " ON CONFLICT (guild_id, user_id, day) DO UPDATE SET reset_at = excluded.reset_at,"
                "   forgiven = excluded.forgiven, last_job_id = excluded.last_job_id",
                guild_id, user_id, utc_day(now), now)
            await conn.execute(_RECORD, guild_id, actor_id, "reset", user_id, "{}", now)

    async def record_view(self, guild_id: int, actor_id: int, target_id: int | None) -> None:
        async with self._conn() as conn:
            await conn.execute(_RECORD, guild_id, actor_id, "view", target_id, "{}", self.now())

    async def admin_actions(self, guild_id: int, limit: int = 50) -> list[AdminAction]:
        async with self._read() as conn:
            rows = await conn.fetch("SELECT actor_id, action, target_id, detail, at FROM admin_actions"
                                    " WHERE guild_id = $1 ORDER BY id DESC LIMIT $2", guild_id, limit)
        return [admin_action(r) for r in rows]

    async def record_action(self, guild_id: int, actor_id: int, action: str, target_id: int | None,
                            detail: dict[str, Any]) -> None:
        async with self._conn() as conn:
            await conn.execute(_RECORD, guild_id, actor_id, action, target_id, json.dumps(detail), self.now())

    # -- a server's configuration ---------------------------------------------------------------

    async def guild_rules(self, guild_id: int) -> list[GuildRule]:
        async with self._read() as conn:
            rows = await conn.fetch("SELECT kind, value, detail, actor_id, at FROM guild_rules WHERE guild_id = $1"
                                    " ORDER BY kind, value", guild_id)
        return [guild_rule(r) for r in rows]

    async def put_rule(self, guild_id: int, kind: RuleKind, value: str, detail: str | None, *, actor_id: int,
                       limit: int | None = None) -> bool:
        now = self.now()
        async with self._write() as conn:
            await _lock_config(conn, guild_id, kind)
            row = await conn.fetchrow("SELECT detail FROM guild_rules WHERE guild_id = $1 AND kind = $2 AND value = $3",
                                      guild_id, kind.value, value)
            if row is not None and row["detail"] == detail:
                return False
            if row is None and limit is not None:
                count = await conn.fetchval("SELECT COUNT(*) FROM guild_rules WHERE guild_id = $1 AND kind = $2",
                                            guild_id, kind.value)
                if count >= limit:
                    raise RuleLimit(kind, limit)
            await conn.execute("INSERT INTO guild_rules (guild_id, kind, value, detail, actor_id, at)"
                               " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (guild_id, kind, value) DO UPDATE"
                               " SET detail = excluded.detail, actor_id = excluded.actor_id, at = excluded.at",
                               guild_id, kind.value, value, detail, actor_id, now)
            await conn.execute(_RECORD, guild_id, actor_id,
                               *config_action(kind, "add", value, {"value": value, "detail": detail}), now)
        return True

    async def remove_rule(self, guild_id: int, kind: RuleKind, value: str, *, actor_id: int) -> bool:
        now = self.now()
        async with self._write() as conn:
            await _lock_config(conn, guild_id, kind)
            row = await conn.fetchrow("DELETE FROM guild_rules WHERE guild_id = $1 AND kind = $2 AND value = $3"
                                      " RETURNING detail", guild_id, kind.value, value)
            if row is None:
                return False
            await conn.execute(_RECORD, guild_id, actor_id,
                               *config_action(kind, "remove", value, {"value": value, "detail": row["detail"]}), now)
        return True

    async def clear_rules(self, guild_id: int, kind: RuleKind, *, actor_id: int) -> int:
        now = self.now()
        async with self._write() as conn:
            await _lock_config(conn, guild_id, kind)
            rows = await conn.fetch("DELETE FROM guild_rules WHERE guild_id = $1 AND kind = $2 RETURNING value",
                                    guild_id, kind.value)
            values = sorted(r["value"] for r in rows)
            if values:
                await conn.execute(_RECORD, guild_id, actor_id,
                                   *config_action(kind, "clear", None, {"values": values}), now)
        return len(values)

    async def set_budget(self, guild_id: int, credits: int | None, *, actor_id: int) -> None:
        now = self.now()
        async with self._write() as conn:
            # Waits for the server's reservations under way, and holds new ones back until COMMIT
            # (reserve_job takes this lock shared): none is checked against a budget half-set.
            await conn.execute("SELECT pg_advisory_xact_lock(28794, hashtext($1::bigint::text))", guild_id)
            # One statement each, holding the row's lock: a concurrent equal change finds it already so.
            if credits is None:
                changed = await conn.fetchval("DELETE FROM guild_budgets WHERE guild_id = $1 RETURNING 1", guild_id)
            else:
                changed = await conn.fetchval(
                    "INSERT INTO guild_budgets (guild_id, daily_credits) VALUES ($1, $2) ON CONFLICT (guild_id)"
                    " DO UPDATE SET daily_credits = excluded.daily_credits"
                    " WHERE guild_budgets.daily_credits <> excluded.daily_credits RETURNING 1", guild_id, credits)
            if changed is not None:
                await conn.execute(_RECORD, guild_id, actor_id, "budget", None,
                                   json.dumps({"daily_credits": credits}), now)

    async def recent_jobs(self, guild_id: int, user_id: int, limit: int = 5) -> list[JobRecord]:
        async with self._read() as conn:
            rows = await conn.fetch("SELECT id, model, cost, state, created_at, finished_at, error, result_url"
                                    " FROM jobs WHERE guild_id = $1 AND user_id = $2 ORDER BY id DESC LIMIT $3",
                                    guild_id, user_id, limit)
        return job_records(rows)

    async def guild_usage(self, guild_id: int, since_day: str) -> list[UsageRow]:
        async with self._read() as conn:
            rows = await conn.fetch(_USAGE_SQL, guild_id, since_day)
        return [usage_row(r) for r in rows]

    async def job(self, job_id: int) -> JobRecord | None:
        async with self._read() as conn:
            row = await conn.fetchrow("SELECT * FROM jobs WHERE id = $1", job_id)
        return None if row is None else job_record(row)

    async def set_result_message(self, job_id: int, channel_id: int, message_id: int) -> None:
        async with self._conn() as conn:
            await conn.execute("UPDATE jobs SET result_channel_id = $2, result_message_id = $3 WHERE id = $1",
                               job_id, channel_id, message_id)

    async def batch(self, batch_id: int) -> list[JobRecord]:
        async with self._read() as conn:
            rows = await conn.fetch("SELECT * FROM jobs WHERE batch_id = $1 ORDER BY id", batch_id)
        return job_records(rows)

    async def member_defaults(self, guild_id: int, user_id: int) -> dict[str, Any]:
        async with self._read() as conn:
            rows = await conn.fetch("SELECT name, value FROM member_defaults WHERE guild_id = $1 AND user_id = $2",
                                    guild_id, user_id)
        return defaults_of(rows)

    async def set_member_default(self, guild_id: int, user_id: int, name: str, value: Any) -> None:
        async with self._write() as conn:
            if value is None:
                await conn.execute("DELETE FROM member_defaults WHERE guild_id = $1 AND user_id = $2 AND name = $3",
                                   guild_id, user_id, name)
                return
            await conn.execute("INSERT INTO member_defaults (guild_id, user_id, name, value, at) VALUES ($1, $2, $3,"
                               " $4, $5) ON CONFLICT (guild_id, user_id, name) DO UPDATE SET value = excluded.value,"
                               " at = excluded.at", guild_id, user_id, name, json.dumps(value), self.now())

    async def reset_member_defaults(self, guild_id: int, user_id: int) -> int:
        async with self._write() as conn:
            status = await conn.execute("DELETE FROM member_defaults WHERE guild_id = $1 AND user_id = $2",
                                        guild_id, user_id)
        return int(status.split()[-1])

    async def history(self, guild_id: int, user_id: int, *, model: str | None = None, offset: int = 0,
                      limit: int = 5) -> tuple[list[JobRecord], int]:
        where = "guild_id = $1 AND user_id = $2 AND ($3::text IS NULL OR model = $3)"
        async with self._read() as conn:
            rows = await conn.fetch(f"SELECT * FROM jobs WHERE {where} ORDER BY id DESC LIMIT $4 OFFSET $5",
                                    guild_id, user_id, model, limit, offset)
            total = await conn.fetchval(f"SELECT COUNT(*) FROM jobs WHERE {where}", guild_id, user_id, model)
        return job_records(rows), total

    async def forget_member(self, user_id: int) -> int:
        return await self._forget("user_id = $1", user_id, "actor_id = $1", "user_id = $1")

    async def forget_older_than(self, created_before: float) -> int:
        return await self._forget("created_at < $1", created_before, "at < $1", "created_at < $1")

    async def _forget(self, where: str, value: Any, audit_where: str, appeal_where: str) -> int:
        sql = (f"UPDATE jobs SET {_FORGET_SETS}, forgotten_at = $2 WHERE {where} AND forgotten_at IS NULL"
               " AND state <> ALL($3::text[])")
        now = self.now()
        async with self._write() as conn:
            status = await conn.execute(sql, value, now, _OPEN)
            await conn.execute(f"UPDATE reviews SET {_FORGET_REVIEW} WHERE detail IS NOT NULL AND job_id IN"
                               f" (SELECT id FROM jobs WHERE {where} AND forgotten_at IS NOT NULL)", value)
            await self._forget_asked(conn, audit_where, appeal_where, value)
        return int(status.split()[-1])

    # -- approval mode and reports (part 8) ------------------------------------------------------

    async def open_review(self, guild_id: int, job_id: int, kind: ReviewKind, user_id: int, *,
                          channel_id: int | None, reason: str | None = None, application_id: int | None = None,
                          token: str | None = None, token_expires_at: float | None = None,
                          detail: str | None = None) -> tuple[int, int]:
        try:
            async with self._write() as conn:
                review_id = await conn.fetchval(
                    "INSERT INTO reviews (guild_id, job_id, kind, user_id, channel_id, reason, application_id,"
                    " interaction_token, token_expires_at, detail, created_at)"
                    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
                    guild_id, job_id, kind.value, user_id, channel_id, reason, application_id, token,
                    token_expires_at, detail, self.now())
                pending = await conn.fetchval("SELECT COUNT(*) FROM reviews WHERE job_id = $1 AND kind = $2"
                                              " AND status = $3", job_id, kind.value, ReviewState.PENDING.value)
        except asyncpg.UniqueViolationError as exc:
            raise AlreadyReviewed(f"job {job_id}: {kind.value} by {user_id} exists ({exc})") from None
        return review_id, pending

    async def set_review_message(self, review_id: int, channel_id: int, message_id: int) -> None:
        async with self._conn() as conn:
            await conn.execute("UPDATE reviews SET review_channel_id = $2, review_message_id = $3 WHERE id = $1",
                               review_id, channel_id, message_id)

    async def set_review_detail(self, review_id: int, detail: str | None) -> None:
        async with self._conn() as conn:
            await conn.execute("UPDATE reviews SET detail = $2 WHERE id = $1", review_id, detail)

    async def drop_review(self, review_id: int) -> None:
        async with self._conn() as conn:
            await conn.execute("DELETE FROM reviews WHERE id = $1 AND status = $2", review_id,
                               ReviewState.PENDING.value)

    async def review(self, review_id: int) -> ReviewRecord | None:
        async with self._read() as conn:
            row = await conn.fetchrow("SELECT * FROM reviews WHERE id = $1", review_id)
        return None if row is None else review_record(row)

    async def open_reviews(self, job_id: int, kind: ReviewKind) -> list[ReviewRecord]:
        async with self._read() as conn:
            rows = await conn.fetch("SELECT * FROM reviews WHERE job_id = $1 AND kind = $2 AND status = $3 ORDER BY id",
                                    job_id, kind.value, ReviewState.PENDING.value)
        return [review_record(r) for r in rows]

    async def reopen_review(self, review_id: int, *, decided_by: int, token: str | None) -> bool:
        async with self._conn() as conn:
            status = await conn.execute(
                "UPDATE reviews SET status = $1, decided_by = NULL, decided_at = NULL, interaction_token = $2"
                " WHERE id = $3 AND decided_by = $4 AND status <> $1",
                ReviewState.PENDING.value, token, review_id, decided_by)
        return status.split()[-1] == "1"

    async def reported_by(self, job_id: int, user_id: int) -> bool:
        async with self._read() as conn:
            found = await conn.fetchval("SELECT EXISTS (SELECT FROM reviews WHERE job_id = $1 AND kind = $2"
                                        " AND user_id = $3)", job_id, ReviewKind.REPORT.value, user_id)
        return bool(found)

    async def decide_review(self, review_id: int, status: ReviewState, *, decided_by: int,
                            reason: str | None = None) -> Decision | None:
        pending = ReviewState.PENDING.value
        sets = "status = $2, decided_by = $3, decided_at = $4, interaction_token = NULL"
        async with self._write() as conn:
            row = await conn.fetchrow("SELECT job_id, kind FROM reviews WHERE id = $1", review_id)
            if row is None:
                return None
            if status not in DECISIONS[ReviewKind(row["kind"])]:
                raise ValueError(f"{status} is no decision for a {row['kind']} review")
            # Every review of the result, locked in id order: decisions on the same result (one report's
            # Keep against another's Remove) take turns instead of deadlocking on each other's rows.
            await conn.execute("SELECT id FROM reviews WHERE job_id = $1 AND kind = $2 ORDER BY id FOR UPDATE",
                               row["job_id"], row["kind"])
            won = await conn.fetchrow(f"UPDATE reviews SET {sets}, reason = COALESCE($5, reason)"
                                      f" WHERE id = $1 AND status = $6 RETURNING id",
                                      review_id, status.value, decided_by, self.now(), reason, pending)
            also = []
            if won is not None and row["kind"] == ReviewKind.REPORT.value:
                also = await conn.fetch(f"UPDATE reviews SET {sets} WHERE job_id = $1 AND kind = $5 AND status = $6"
                                        " RETURNING *", row["job_id"], status.value, decided_by, self.now(),
                                        row["kind"], pending)
            now_row = await conn.fetchrow("SELECT * FROM reviews WHERE id = $1", review_id)
        return Decision(won is not None, review_record(now_row),
                        sorted((review_record(r) for r in also), key=lambda r: r["id"]))

    # -- leases (part 9) -------------------------------------------------------------------------

    async def renew(self, owner: str, job_ids: list[int], lease_seconds: float) -> set[int]:
        """Push the leases `owner` still holds on `job_ids` forward; returns those it still holds."""
        if not job_ids:
            return set()
        async with self._conn() as conn:
            rows = await conn.fetch("UPDATE jobs SET lease_until = $1 WHERE id = ANY($2::bigint[]) AND state = $3"
                                    " AND lease_owner = $4 RETURNING id", self.now() + lease_seconds, job_ids,
                                    _RUNNING, owner)
        return {r[0] for r in rows}

    @asynccontextmanager
    async def singleton(self, name: str) -> AsyncIterator[bool]:
        # A session lock, on a connection kept out of the pool while the block runs; try, never wait:
        # whoever has it is doing the work for everyone.
        key = (SINGLETON_LOCK, zlib.crc32(name.encode()) & 0x7FFFFFFF)
        async with self._read() as conn:
            mine = await conn.fetchval("SELECT pg_try_advisory_lock($1, $2)", *key)
            try:
                yield mine
            finally:
                if mine:
                    await conn.execute("SELECT pg_advisory_unlock($1, $2)", *key)

    # -- part 8: appeals and the audit feed ------------------------------------------------------

    @staticmethod
    async def _forget_asked(conn: asyncpg.Connection, audit_where: str, appeal_where: str, value: Any) -> None:
        """What a member asked for also lives in audit rows (a generation's prompt, the text an appealed
        rule matched) and in appeals not waiting for a moderator; /forget and retention clear it with the jobs."""
        await conn.execute(f"UPDATE admin_actions SET detail = ((detail::jsonb - 'prompt') #- '{{rule,matched}}')::text"
                           f" WHERE {audit_where} AND action = ANY($2::text[])",
                           value, [AuditAction.GENERATION.value, AuditAction.APPEAL.value])
        await conn.execute(f"UPDATE appeals SET request = '{{}}', rule = (rule::jsonb - 'matched')::text"
                           f" WHERE {appeal_where} AND status = ANY($2::text[])",
                           value, [AppealStatus.ALLOWED.value, AppealStatus.DENIED.value, AppealStatus.OFFERED.value])

    async def create_appeal(self, guild_id: int, channel_id: int, user_id: int, *, model: str,
                            request: dict[str, Any], rule: dict[str, Any], expires_at: float) -> int:
        async with self._conn() as conn:
            return await conn.fetchval(
                "INSERT INTO appeals (guild_id, channel_id, user_id, model, request, rule, status, created_at,"
                " expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
                guild_id, channel_id, user_id, model, json.dumps(request), json.dumps(rule),
                AppealStatus.OFFERED.value, self.now(), expires_at)

    async def appeal(self, appeal_id: int) -> AppealRecord | None:
        async with self._read() as conn:
            row = await conn.fetchrow("SELECT * FROM appeals WHERE id = $1", appeal_id)
        return None if row is None else appeal_record(row)

    async def ask_appeal(self, appeal_id: int, user_id: int) -> bool:
        now = self.now()
        async with self._conn() as conn:
            status = await conn.execute(
                "UPDATE appeals SET status = $1, asked_at = $2 WHERE id = $3 AND user_id = $4 AND status = $5"
                " AND expires_at > $2", AppealStatus.PENDING.value, now, appeal_id, user_id, AppealStatus.OFFERED.value)
        return status.split()[-1] == "1"

    async def reopen_appeal(self, appeal_id: int) -> None:
        async with self._conn() as conn:
            await conn.execute("UPDATE appeals SET status = $1, asked_at = NULL WHERE id = $2 AND status = $3",
                               AppealStatus.OFFERED.value, appeal_id, AppealStatus.PENDING.value)

    async def appeal_posted(self, appeal_id: int, channel_id: int, message_id: int, *, actor_id: int) -> None:
        now = self.now()
        async with self._write() as conn:
            row = await conn.fetchrow("UPDATE appeals SET review_channel_id = $2, review_message_id = $3 WHERE id = $1"
                                      " RETURNING guild_id, channel_id, model, rule", appeal_id, channel_id, message_id)
            if row is not None:
                detail = {"appeal": appeal_id, "channel_id": row["channel_id"], "model": row["model"],
                          "rule": json.loads(row["rule"])}
                await conn.execute(_RECORD, row["guild_id"], actor_id, AuditAction.APPEAL.value, actor_id,
                                   json.dumps(detail), now)

    async def decide_appeal(self, appeal_id: int, allowed: bool, *, actor_id: int, reason: str | None) -> bool:
        now = self.now()
        status = AppealStatus.ALLOWED if allowed else AppealStatus.DENIED
        async with self._write() as conn:
            # The row lock of this UPDATE makes a second decider wait, then find it no longer pending.
            row = await conn.fetchrow("UPDATE appeals SET status = $1, decided_by = $2, decided_at = $3, reason = $4"
                                      " WHERE id = $5 AND status = $6 RETURNING guild_id, user_id",
                                      status.value, actor_id, now, reason, appeal_id, AppealStatus.PENDING.value)
            if row is None:
                return False
            action = AuditAction.ALLOW if allowed else AuditAction.DENY
            await conn.execute(_RECORD, row["guild_id"], actor_id, action.value, row["user_id"],
                               json.dumps({"appeal": appeal_id, "reason": reason}), now)
        return True

    async def set_appeal_job(self, appeal_id: int, job_id: int) -> None:
        async with self._conn() as conn:
            await conn.execute("UPDATE appeals SET job_id = $2 WHERE id = $1", appeal_id, job_id)

    async def unposted_guilds(self) -> list[int]:
        async with self._read() as conn:
            rows = await conn.fetch("SELECT DISTINCT guild_id FROM admin_actions WHERE posted_at IS NULL")
        return [r[0] for r in rows]

    async def claim_audit(self, guild_id: int, *, limit: int, lease_seconds: float) -> list[AuditRow]:
        now = self.now()
        async with self._write() as conn:
            # SKIP LOCKED: a second poster takes the rows after these instead of waiting for them.
            rows = await conn.fetch(
                "UPDATE admin_actions SET claimed_until = $1 WHERE id IN ("
                " SELECT id FROM admin_actions WHERE guild_id = $2 AND posted_at IS NULL"
                " AND (claimed_until IS NULL OR claimed_until < $3) ORDER BY id LIMIT $4 FOR UPDATE SKIP LOCKED)"
                f" RETURNING {_AUDIT_COLUMNS}", now + lease_seconds, guild_id, now, limit)
        return [audit_row(r) for r in sorted(rows, key=lambda r: r["id"])]  # RETURNING has no order

    async def mark_audit_posted(self, ids: list[int]) -> None:
        async with self._conn() as conn:
            await conn.execute("UPDATE admin_actions SET posted_at = $1, claimed_until = NULL WHERE id = ANY($2::bigint[])",
                               self.now(), ids)

    async def release_audit(self, ids: list[int]) -> None:
        async with self._conn() as conn:
            await conn.execute("UPDATE admin_actions SET claimed_until = NULL WHERE id = ANY($1::bigint[])"
                               " AND posted_at IS NULL", ids)

    async def skip_audit(self, guild_id: int) -> int:
        now = self.now()
        async with self._conn() as conn:
            status = await conn.execute("UPDATE admin_actions SET posted_at = $1 WHERE guild_id = $2 AND posted_at IS NULL"
                                        " AND (claimed_until IS NULL OR claimed_until < $1)", now, guild_id)
        return int(status.split()[-1])

    async def audit_log(self, guild_id: int, *, member: int | None = None, action: str | None = None,
                        since: float | None = None, offset: int = 0, limit: int = 10) -> tuple[list[AuditRow], int]:
        where = ("guild_id = $1 AND ($2::bigint IS NULL OR actor_id = $2 OR target_id = $2)"
                 " AND ($3::text IS NULL OR action = $3 OR starts_with(action, $3 || '.'))"
                 " AND ($4::double precision IS NULL OR at >= $4)")
        args = (guild_id, member, action, since)
        async with self._read() as conn:
            rows = await conn.fetch(f"SELECT {_AUDIT_COLUMNS} FROM admin_actions WHERE {where}"
                                    " ORDER BY id DESC LIMIT $5 OFFSET $6", *args, limit, offset)
            total = await conn.fetchval(f"SELECT COUNT(*) FROM admin_actions WHERE {where}", *args)
        return [audit_row(r) for r in rows], total
