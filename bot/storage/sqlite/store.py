"""The embedded SQLite ledger (the default backend): jobs, allowances, grants, admin actions.

Credits are never stored as a balance. Every credit spent is a `jobs` row; the daily totals a
reservation reads are kept by triggers in the same transaction as those rows (migration 0004), and
`SqliteStore.audit()` recomputes them from the rows. A failed job stops counting the moment its row says so.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

from bot.domain import (
    OPEN_STATES,
    JobState,
    Member,
    QuotaSnapshot,
    Refused,
    StoreBusy,
    StoreDown,
    next_renewal,
    utc_day,
)
from bot.domain.appeals import AppealStatus
from bot.domain.audit import AuditAction
from bot.domain.delivery import Delivery
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
from bot.storage.sqlite.migrations import apply_migrations
from bot.storage.sqlite.thread import DatabaseThread

log = logging.getLogger(__name__)
T = TypeVar("T")

_OPEN_SQL = ", ".join(f"'{state.value}'" for state in OPEN_STATES)
# What forgetting clears; params is NOT NULL (the body sent to Pixazo), so it becomes an empty object.
_FORGET_SETS = "params = '{}', inputs = NULL, result_url = NULL, delivery = NULL, interaction_token = NULL"
# A review of a forgotten job: a decided one needs its saved result embed no more; a pending one keeps only
# what shows the image again (title, image, footer), not the prompt, settings or requester.
_FORGET_REVIEW = ("detail = CASE WHEN status = 'pending' THEN json_remove(detail, '$.embed.description',"
                  " '$.embed.fields', '$.embed.author', '$.embed.thumbnail') END")
_REFUNDED_SQL = ", ".join(f"'{state.value}'" for state in REFUNDED_STATES)
_QUEUED = JobState.QUEUED.value
_RUNNING = JobState.RUNNING.value
_AUDIT_COLUMNS = "id, guild_id, actor_id, action, target_id, detail, at"

# The next job a claim takes, by fair rank then id: a queued one, or a running one whose holder's lease
# ran out (its process is presumed dead; never the claimer's own, bot/storage/lease.py) and that may run
# once more. Two one-row scans of their own indexes, then the earlier of the two.
_NEXT_SQL = f"""
SELECT id FROM (
  SELECT * FROM (SELECT id, rank FROM jobs WHERE state = '{_QUEUED}' ORDER BY rank, id LIMIT 1)
  UNION ALL
  SELECT * FROM (SELECT id, rank FROM jobs WHERE state = '{_RUNNING}' AND lease_until < :now
                   AND delivery IS NOT NULL AND attempts < {MAX_ATTEMPTS} AND lease_owner != :owner
                   ORDER BY rank, id LIMIT 1)
) ORDER BY rank, id LIMIT 1"""
# A running job whose lease ran out after its last allowed attempt (never one of this process's own:
# it may be waiting for its settle to land): failed, refunded (part 5's rule).
_WORN_OUT = f"state = '{_RUNNING}' AND lease_until < :now AND attempts >= {MAX_ATTEMPTS} AND lease_owner != :owner"
# Settles by a process are guarded on its lease: one that lost the job must not undo the new holder's work.
_HELD = "(lease_owner IS NULL OR lease_owner = :owner)"


_SNAPSHOT_SQL = """
SELECT
  (SELECT daily_credits FROM allowances WHERE guild_id = :g AND scope = 'member' AND target_id = :u),
  (SELECT MAX(daily_credits) FROM allowances
     WHERE guild_id = :g AND scope = 'role' AND target_id IN (SELECT value FROM json_each(:roles))),
  (SELECT daily_credits FROM allowances WHERE guild_id = :g AND scope = 'default' AND target_id = 0),
  (SELECT COALESCE(SUM(credits), 0) FROM grants WHERE guild_id = :g AND user_id = :u AND day = :day),
  COALESCE((SELECT credits FROM usage WHERE guild_id = :g AND user_id = :u AND day = :day), 0)
    - COALESCE((SELECT forgiven FROM usage_resets WHERE guild_id = :g AND user_id = :u AND day = :day), 0),
  (SELECT COUNT(*) FROM jobs WHERE user_id = :u AND state IN (""" + _OPEN_SQL + """)),
  COALESCE((SELECT credits FROM usage_global WHERE day = :day), 0),
  COALESCE((SELECT credits FROM usage_guild WHERE guild_id = :g AND day = :day), 0),
  (SELECT daily_credits FROM guild_budgets WHERE guild_id = :g)
"""

Conn = sqlite3.Connection


def _is_busy(exc: BaseException) -> bool:
    """SQLite's "database is locked" / "database is busy": another connection holds the write lock."""
    return isinstance(exc, sqlite3.OperationalError) and any(
        word in str(exc).lower() for word in ("database is locked", "database is busy", "database table is locked"))


# The file can't be written right now: SQLITE_READONLY, SQLITE_IOERR, SQLITE_FULL, SQLITE_CANTOPEN (a
# full disk, a file system remounted read-only, a failing disk). Nothing was written: SQLite rolls the
# statement (or the transaction) back; it may work again once the operator has made room.
_DOWN_CODES = frozenset({8, 10, 13, 14})


def _is_down(exc: BaseException) -> bool:
    return (isinstance(exc, sqlite3.OperationalError)
            and (getattr(exc, "sqlite_errorcode", 0) & 0xFF) in _DOWN_CODES)


def _call(conn: Conn, work: Callable[..., T], *args: Any) -> tuple[T, bool]:
    """work(conn, *args), and whether it wrote anything (a write that landed ends an outage)."""
    before = conn.total_changes
    result = work(conn, *args)
    return result, conn.total_changes != before


def _in_transaction(conn: Conn, work: Callable[[Conn], T]) -> T:
    conn.execute("BEGIN IMMEDIATE")
    try:
        result = work(conn)
        # COMMIT itself can be refused as busy; the transaction must not stay open on this connection.
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return result


_check_fits = check_fits


def _spent(snap: QuotaSnapshot, cost: int) -> QuotaSnapshot:
    return replace(snap, used=snap.used + cost, in_flight=snap.in_flight + 1, global_used=snap.global_used + cost,
                   guild_used=snap.guild_used + cost)


def _snapshot(conn: Conn, member: Member, now: float, default_allowance: int) -> QuotaSnapshot:
    args = {"g": member.guild_id, "u": member.user_id, "day": utc_day(now), "roles": json.dumps(list(member.role_ids))}
    (by_member, by_role, by_guild, granted, used, in_flight, global_used, guild_used,
     guild_budget) = conn.execute(_SNAPSHOT_SQL, args).fetchone()
    allowance, source = next(
        (value, name)
        for value, name in ((by_member, "member"), (by_role, "role"), (by_guild, "server default"),
                            (default_allowance, "bot default"))
        if value is not None
    )
    return QuotaSnapshot(allowance, source, granted, used, in_flight, global_used, next_renewal(now), guild_used,
                         guild_budget)


def _record(conn: Conn, now: float, guild_id: int, actor_id: int, action: str, target_id: int | None,
            detail: dict[str, Any]) -> None:
    _record_json(conn, now, guild_id, actor_id, action, target_id, json.dumps(detail))


def _record_json(conn: Conn, now: float, guild_id: int, actor_id: int, action: str, target_id: int | None,
                 detail: str) -> None:
    conn.execute(
        "INSERT INTO admin_actions (guild_id, actor_id, action, target_id, detail, at) VALUES (?, ?, ?, ?, ?, ?)",
        (guild_id, actor_id, action, target_id, detail, now),
    )


def _record_config(conn: Conn, now: float, guild_id: int, actor_id: int, kind: RuleKind, verb: str,
                   value: str | None, detail: dict[str, Any]) -> None:
    _record_json(conn, now, guild_id, actor_id, *config_action(kind, verb, value, detail))


def _checkpoint(conn: Conn) -> None:
    """Copy the write-ahead log into the database and empty it: what /forget overwrote in the database
    is otherwise still in the log's older frames. A reader holding an old snapshot makes it wait for
    the next forget (or the last connection's close, which checkpoints too)."""
    busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    if busy:
        log.warning("after a forget, the write-ahead log could not be emptied (a reader is open); the cleared "
                    "text stays in %s-wal until the next checkpoint", conn.execute("PRAGMA database_list")
                    .fetchone()[2])


def _rows(conn: Conn, sql: str, args: tuple[Any, ...]) -> list[dict[str, Any]]:
    cur = conn.execute(sql, args)
    names = [c[0] for c in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def _connect(path: Path, busy_timeout: float) -> Conn:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute(f"PRAGMA busy_timeout = {max(1, round(busy_timeout * 1000))}")
        conn.execute("PRAGMA synchronous = NORMAL")
        # What a row loses (an update, /forget) is overwritten with zeros, not left in free space.
        conn.execute("PRAGMA secure_delete = ON")
        apply_migrations(conn)
    except BaseException:
        conn.close()
        raise
    return conn


class SqliteStore:
    """Every method is one trip to the database thread.

    The connection lives on a thread of the store's own (DatabaseThread, no private aiosqlite hook):
    each method hands that thread one plain function, so a check-and-spend runs from BEGIN IMMEDIATE
    to COMMIT with no `await` inside it and no other coroutine's statement can slip in between the
    read and the write. Other processes on the same file are kept out by SQLite's write lock.
    """

    def __init__(self, conn: Conn, thread: DatabaseThread, clock: Callable[[], float], *, owner: str | None = None,
                 exclusive: bool = False, path: Path | None = None) -> None:
        self._conn: Conn | None = conn
        self._thread = thread
        self._clock = clock
        self.owner = owner or new_owner()  # this process's id on the leases it takes (bot/storage/lease.py)
        # The bot holds DATA_DIR's lock (bot/core/instance_lock.py): no other process can be running jobs, so
        # recovery may take every running job as this process's own, without waiting for leases to expire.
        self._exclusive = exclusive
        self.outage = Outage(f"the SQLite ledger {path}" if path else "the SQLite ledger")
        self.interrupted: list[JobRecord] = []  # failed by recovery at start: their members are told (queue)

    @classmethod
    async def open(cls, path: Path, *, clock: Callable[[], float] = time.time, busy_timeout: float = 5.0,
                   delivered: Mapping[int, str | None] | None = None, recover: bool = True,
                   owner: str | None = None, exclusive: bool = False) -> SqliteStore:
        """Open, migrate and recover. `delivered` (job id -> result URL) are jobs the member received
        whose success the last run could not record: they count as succeeded, never refunded.
        `recover=False` leaves open jobs alone: a second view of a ledger a running bot owns."""
        path.parent.mkdir(parents=True, exist_ok=True)
        thread = DatabaseThread()
        try:
            conn = await thread.run(_connect, path, busy_timeout)
        except BaseException as exc:
            thread.stop()
            if _is_busy(exc):
                raise StoreBusy(f"{path}: {exc}") from None
            raise
        store = cls(conn, thread, clock, owner=owner, exclusive=exclusive, path=path)
        return await recovered(store, delivered, recover=recover)

    async def close(self) -> None:
        if self._conn is None:
            return
        conn, self._conn = self._conn, None
        try:
            await self._thread.run(conn.close)
        finally:
            self._thread.stop()

    async def _run(self, work: Callable[..., T], *args: Any) -> T:
        try:
            result, wrote = await self._thread.run(_call, self._conn, work, *args)
        except sqlite3.OperationalError as exc:
            if _is_busy(exc):
                raise StoreBusy(str(exc)) from None
            if _is_down(exc):
                self.outage.failed(str(exc))
                raise StoreDown(str(exc)) from None
            raise
        if wrote:
            self.outage.wrote()
        return result

    async def _write(self, work: Callable[[Conn], T]) -> T:
        """work(conn) between BEGIN IMMEDIATE and COMMIT, as one step on the database thread."""
        return await self._run(_in_transaction, work)

    def now(self) -> float:
        return self._clock()

    # -- quotas -------------------------------------------------------------------------------

    async def snapshot(self, member: Member, *, default_allowance: int) -> QuotaSnapshot:
        return await self._run(_snapshot, member, self.now(), default_allowance)

    async def reserve(self, member: Member, *, channel_id: int | None, model: str, params: dict[str, Any],
                      cost: int, default_allowance: int, max_jobs: int, global_cap: int | None,
                      inputs: dict[str, Any] | None = None) -> tuple[int, QuotaSnapshot]:
        """Check the allowance and spend from it in one transaction; raise Refused when it won't fit."""
        now = self.now()
        row = (member.user_id, member.guild_id, channel_id, model, json.dumps(params), cost, utc_day(now),
               JobState.RESERVED.value, now, None if inputs is None else json.dumps(inputs))

        def check_and_spend(conn: Conn) -> tuple[int, QuotaSnapshot]:
            snap = _snapshot(conn, member, now, default_allowance)
            _check_fits(snap, cost, max_jobs, global_cap)
            cur = conn.execute(
                "INSERT INTO jobs (user_id, guild_id, channel_id, model, params, cost, day, state, created_at,"
                " inputs) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", row)
            assert cur.lastrowid is not None, "an INSERT always gives the new row's id"
            return cur.lastrowid, _spent(snap, cost)

        return await self._write(check_and_spend)

    async def enqueue(self, member: Member, *, channel_id: int | None, model: str, params: dict[str, Any],
                      cost: int, default_allowance: int, max_jobs: int, global_cap: int | None, max_queue: int,
                      delivery: Delivery, token: str | None,
                      inputs: dict[str, Any] | None = None) -> tuple[int, QuotaSnapshot]:
        now = self.now()
        row = (member.user_id, member.guild_id, channel_id, model, json.dumps(params), cost, utc_day(now),
               _QUEUED, now, None if inputs is None else json.dumps(inputs), encode_delivery(delivery), token)

        def check_and_queue(conn: Conn) -> tuple[int, QuotaSnapshot]:
            snap = _snapshot(conn, member, now, default_allowance)
            _check_fits(snap, cost, max_jobs, global_cap)
            (waiting,) = conn.execute("SELECT COUNT(*) FROM jobs WHERE state = ?", (_QUEUED,)).fetchone()
            if waiting >= max_queue:
                raise Refused(Refused.QUEUE, snap)
            # rank: the member's open jobs, all ahead of this one (in_flight counts exactly those).
            cur = conn.execute(
                "INSERT INTO jobs (user_id, guild_id, channel_id, model, params, cost, day, state, created_at,"
                " inputs, delivery, interaction_token, rank) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (*row, snap.in_flight))
            assert cur.lastrowid is not None, "an INSERT always gives the new row's id"
            return cur.lastrowid, _spent(snap, cost)

        return await self._write(check_and_queue)

    async def enqueue_batch(self, member: Member, *, channel_id: int | None, model: str,
                            params: list[dict[str, Any]], cost: int, default_allowance: int, max_jobs: int,
                            global_cap: int | None, max_queue: int, deliveries: list[Delivery],
                            token: str | None) -> list[int]:
        now = self.now()
        day = utc_day(now)

        def check_and_queue(conn: Conn) -> list[int]:
            snap = _snapshot(conn, member, now, default_allowance)
            _check_fits(snap, cost * len(params), max_jobs, global_cap)
            (waiting,) = conn.execute("SELECT COUNT(*) FROM jobs WHERE state = ?", (_QUEUED,)).fetchone()
            if waiting + len(params) > max_queue:
                raise Refused(Refused.QUEUE, snap)
            ids: list[int] = []
            for index, (body, delivery) in enumerate(zip(params, deliveries, strict=True)):
                cur = conn.execute(
                    "INSERT INTO jobs (user_id, guild_id, channel_id, model, params, cost, day, state, created_at,"
                    " delivery, interaction_token, rank, batch_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (member.user_id, member.guild_id, channel_id, model, json.dumps(body), cost, day, _QUEUED, now,
                     encode_delivery(delivery), token, snap.in_flight + index, ids[0] if ids else None))
                assert cur.lastrowid is not None, "an INSERT always gives the new row's id"
                ids.append(cur.lastrowid)
            conn.execute("UPDATE jobs SET batch_id = ? WHERE id = ?", (ids[0], ids[0]))
            return ids

        return await self._write(check_and_queue)

    async def claim(self, owner: str | None = None, lease_seconds: float = DEFAULT_LEASE_SECONDS,
                    max_running: int | None = None) -> JobRecord | None:
        now = self.now()
        args = {"now": now, "owner": owner or self.owner, "until": now + lease_seconds}

        def work(conn: Conn) -> list[dict[str, Any]]:
            if max_running is not None:
                # Inside BEGIN IMMEDIATE: no other claim can count between this and the UPDATE.
                (live,) = conn.execute("SELECT COUNT(*) FROM jobs WHERE state = ? AND lease_until >= ?",
                                       (_RUNNING, now)).fetchone()
                if live >= max_running:
                    return []
            cur = conn.execute("UPDATE jobs SET state = :is_running, started_at = :now, attempts = attempts + 1,"
                               f" lease_owner = :owner, lease_until = :until WHERE id = ({_NEXT_SQL}) RETURNING *",
                               {**args, "is_running": _RUNNING})
            names = [c[0] for c in cur.description]
            return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

        rows = await self._write(work)
        return job_record(rows[0]) if rows else None

    async def fail_worn_out(self) -> list[JobRecord]:
        now = self.now()
        args = {"now": now, "owner": self.owner}

        def work(conn: Conn) -> list[dict[str, Any]]:
            cur = conn.execute(f"SELECT * FROM jobs WHERE {_WORN_OUT}", args)
            names = [c[0] for c in cur.description]
            rows = [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
            if rows:
                conn.execute(f"UPDATE jobs SET state = '{JobState.FAILED.value}', error = :error, finished_at = :now,"
                             f" interaction_token = NULL WHERE {_WORN_OUT}", {**args, "error": INTERRUPTED})
            return rows

        return job_records(await self._write(work))

    async def requeue_orphans(self, running: list[int]) -> list[int]:
        def work(conn: Conn) -> list[int]:
            return [r[0] for r in conn.execute(
                "UPDATE jobs SET state = ?, started_at = NULL, attempts = MAX(0, attempts - 1), lease_owner = NULL,"
                " lease_until = NULL WHERE state = ? AND lease_owner = ? AND id NOT IN (SELECT value FROM json_each(?))"
                " RETURNING id", (_QUEUED, _RUNNING, self.owner, json.dumps(running))).fetchall()]

        return sorted(await self._write(work))

    async def requeue(self, job_id: int) -> JobState | None:
        def work(conn: Conn) -> str | None:
            conn.execute("UPDATE jobs SET state = :is_queued, started_at = NULL, attempts = MAX(0, attempts - 1),"
                         f" lease_owner = NULL, lease_until = NULL WHERE id = :id AND state = :is_running AND {_HELD}",
                         {"is_queued": _QUEUED, "id": job_id, "is_running": _RUNNING, "owner": self.owner})
            row = conn.execute("SELECT state FROM jobs WHERE id = ?", (job_id,)).fetchone()
            return row and row[0]

        now = await self._write(work)
        return None if now is None else JobState(now)

    async def cancel(self, job_id: int, actor_id: int) -> tuple[JobState | None, JobState | None]:
        now = self.now()
        from_states = sources_of(JobState.CANCELLED)
        marks = ", ".join("?" for _ in from_states)

        def work(conn: Conn) -> tuple[str | None, str | None]:
            row = conn.execute("SELECT state FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if row is None:
                return None, None
            conn.execute(f"UPDATE jobs SET state = ?, finished_at = ?, cancelled_by = ?, interaction_token = NULL"
                         f" WHERE id = ? AND state IN ({marks})",
                         (JobState.CANCELLED.value, now, actor_id, job_id, *(s.value for s in from_states)))
            (after,) = conn.execute("SELECT state FROM jobs WHERE id = ?", (job_id,)).fetchone()
            return row[0], after

        before, after = await self._write(work)
        return (None if before is None else JobState(before)), (None if after is None else JobState(after))

    async def queue_positions(self) -> dict[int, int]:
        rows = await self._run(lambda conn: conn.execute(
            "SELECT id, ROW_NUMBER() OVER (ORDER BY rank, id) FROM jobs WHERE state = ?", (_QUEUED,)).fetchall())
        return dict(rows)

    async def median_seconds(self, model: str, recent: int = 20) -> float | None:
        rows = await self._run(lambda conn: conn.execute(
            "SELECT finished_at - started_at FROM jobs WHERE model = ? AND state = ? AND started_at IS NOT NULL"
            " ORDER BY id DESC LIMIT ?", (model, JobState.SUCCEEDED.value, recent)).fetchall())
        times = sorted(r[0] for r in rows if r[0] is not None)
        return times[len(times) // 2] if times else None

    async def expire_waiting(self, queued_before: float) -> list[JobRecord]:
        now = self.now()

        def work(conn: Conn) -> list[dict[str, Any]]:
            rows = _rows(conn, "SELECT * FROM jobs WHERE state = ? AND created_at < ?", (_QUEUED, queued_before))
            conn.executemany("UPDATE jobs SET state = ?, finished_at = ?, error = ?, interaction_token = NULL"
                             " WHERE id = ? AND state = ?",
                             [(JobState.FAILED.value, now, EXPIRED, r["id"], _QUEUED) for r in rows])
            return rows

        return job_records(await self._write(work))

    # Settling raises StoreBusy when the write lock could not be had; nothing changed then, and every
    # settle may simply be called again: the state guard makes a repeat a no-op.

    async def mark_running(self, job_id: int) -> JobState | None:
        return await self._settle(job_id, JobState.RUNNING, started_at=self.now())

    async def succeed(self, job_id: int, result_url: str | None) -> JobState | None:
        return await self._settle(job_id, JobState.SUCCEEDED, finished_at=self.now(), result_url=result_url,
                                  interaction_token=None)

    async def fail(self, job_id: int, error: str) -> JobState | None:
        return await self._settle(job_id, JobState.FAILED, finished_at=self.now(), error=error[:1000],
                                  interaction_token=None)

    async def _settle(self, job_id: int, state: JobState, **columns: Any) -> JobState | None:
        """Move the job to `state` if the state machine allows it; return the state it is in afterwards."""
        from_states = sources_of(state)
        sets = ", ".join(f"{name} = :{name}" for name in columns)
        marks = ", ".join(f":from{i}" for i in range(len(from_states)))
        sql = f"UPDATE jobs SET state = :state, {sets} WHERE id = :id AND state IN ({marks}) AND {_HELD}"
        args = {"state": state.value, "id": job_id, "owner": self.owner, **columns,
                **{f"from{i}": s.value for i, s in enumerate(from_states)}}

        def work(conn: Conn) -> str | None:
            if conn.execute(sql, args).rowcount == 1:
                return state.value
            row = conn.execute("SELECT state FROM jobs WHERE id = ?", (job_id,)).fetchone()
            return row and row[0]

        now = await self._run(work)
        return settled_as(job_id, state, now)

    async def recover_interrupted(self, delivered: Mapping[int, str | None] | None = None) -> list[JobRecord]:
        """Settle what the last run left open: `delivered` jobs succeed, every other open job fails.

        One transaction, so a delivered job can never be refunded by the second step. Returns the jobs
        it failed (refunded), as they were: their members are told (the queue, once it starts)."""
        now = self.now()
        delivered = dict(delivered or {})
        # Only what this process held or its predecessor on the same DATA_DIR did (or a row without a
        # lease: older versions, in-process jobs); a job another live process holds is its own, and one
        # whose lease expired is taken over by the claim. Exclusive (SQLite under DATA_DIR's lock): all.
        pattern = same_instance_pattern(self.owner)
        mine = "" if self._exclusive else (f" AND ({_HELD} OR lease_owner LIKE :pattern)" if pattern else f" AND {_HELD}")
        owner = {"owner": self.owner, "pattern": pattern}

        def work(conn: Conn) -> tuple[int, list[dict[str, Any]]]:
            succeeded = sum(conn.execute(
                f"UPDATE jobs SET state = ?, finished_at = ?, result_url = COALESCE(?, result_url)"
                f" WHERE id = ? AND state IN ({_OPEN_SQL})",
                (JobState.SUCCEEDED.value, now, url, job_id)).rowcount for job_id, url in delivered.items())
            # A queued job's call cut short runs once more; queued jobs simply stay queued.
            conn.execute("UPDATE jobs SET state = :is_queued, started_at = NULL, lease_owner = NULL, lease_until = NULL"
                         f" WHERE state = :is_running AND delivery IS NOT NULL AND attempts < :max{mine}",
                         {"is_queued": _QUEUED, "is_running": _RUNNING, "max": MAX_ATTEMPTS, **owner})
            where = f"state IN ({_OPEN_SQL}) AND state != :is_queued{mine}"
            args = {"is_failed": JobState.FAILED.value, "error": INTERRUPTED, "now": now, "is_queued": _QUEUED, **owner}
            cur = conn.execute(f"SELECT * FROM jobs WHERE {where} ORDER BY id", args)
            names = [c[0] for c in cur.description]
            failed = [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
            conn.execute("UPDATE jobs SET state = :is_failed, error = :error, finished_at = :now,"
                         f" interaction_token = NULL WHERE {where}", args)
            return succeeded, failed

        succeeded, failed = await self._write(work)
        if succeeded:
            log.warning("recorded %d job(s) delivered before the last shutdown as succeeded", succeeded)
        return job_records(failed)

    async def audit(self) -> list[str]:
        """Where the trigger-kept totals disagree with the job rows; empty when the ledger is whole."""
        return await self._run(lambda conn: [f"{kind} {key}: kept {kept}, ledger {actual}"
                                             for kind, key, kept, actual in conn.execute(_AUDIT_SQL)])

    # -- admin --------------------------------------------------------------------------------

    async def set_allowance(self, guild_id: int, scope: str, target_id: int, credits: int | None, *,
                            actor_id: int) -> None:
        now = self.now()

        def work(conn: Conn) -> None:
            if credits is None:
                conn.execute("DELETE FROM allowances WHERE guild_id = ? AND scope = ? AND target_id = ?",
                             (guild_id, scope, target_id))
            else:
                conn.execute(
                    "INSERT INTO allowances (guild_id, scope, target_id, daily_credits) VALUES (?, ?, ?, ?)"
                    " ON CONFLICT (guild_id, scope, target_id) DO UPDATE SET daily_credits = excluded.daily_credits",
                    (guild_id, scope, target_id, credits))
            _record(conn, now, guild_id, actor_id, f"allowance.{scope}", target_id or None, {"daily_credits": credits})

        await self._write(work)

    async def grant(self, guild_id: int, user_id: int, credits: int, *, actor_id: int) -> None:
        now = self.now()

        def work(conn: Conn) -> None:
            conn.execute(
                "INSERT INTO grants (guild_id, user_id, day, credits, granted_by, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                (guild_id, user_id, utc_day(now), credits, actor_id, now))
            _record(conn, now, guild_id, actor_id, "grant", user_id, {"credits": credits})

        await self._write(work)

    async def reset_usage(self, guild_id: int, user_id: int, *, actor_id: int) -> None:
        now = self.now()
        day = utc_day(now)

        def work(conn: Conn) -> None:
            # Forgive what is counted now; jobs made later count as usual.
            conn.execute(
                "INSERT INTO usage_resets (guild_id, user_id, day, reset_at, forgiven, last_job_id)"
                " VALUES (:g, :u, :day, :now,"
                "   COALESCE((SELECT credits FROM usage WHERE guild_id = :g AND user_id = :u AND day = :day), 0),"
                "   (SELECT COALESCE(MAX(id), 0) FROM jobs))"
                " ON CONFLICT (guild_id, user_id, day) DO UPDATE SET reset_at = excluded.reset_at,"
                "   forgiven = excluded.forgiven, last_job_id = excluded.last_job_id",
                {"g": guild_id, "u": user_id, "day": day, "now": now})
            _record(conn, now, guild_id, actor_id, "reset", user_id, {})

        await self._write(work)

    async def record_view(self, guild_id: int, actor_id: int, target_id: int | None) -> None:
        now = self.now()
        await self._run(lambda conn: _record(conn, now, guild_id, actor_id, "view", target_id, {}))

    async def admin_actions(self, guild_id: int, limit: int = 50) -> list[AdminAction]:
        rows = await self._run(_rows, "SELECT actor_id, action, target_id, detail, at FROM admin_actions"
                                      " WHERE guild_id = ? ORDER BY id DESC LIMIT ?", (guild_id, limit))
        return [admin_action(r) for r in rows]

    async def record_action(self, guild_id: int, actor_id: int, action: str, target_id: int | None,
                            detail: dict[str, Any]) -> None:
        now = self.now()
        await self._write(lambda conn: _record(conn, now, guild_id, actor_id, action, target_id, detail))

    # -- a server's configuration ---------------------------------------------------------------
    # BEGIN IMMEDIATE takes SQLite's write lock first, so each read-then-write below (the limit's count,
    # "already exactly so") sees every other change, from this process or another, as done or not begun.

    async def guild_rules(self, guild_id: int) -> list[GuildRule]:
        rows = await self._run(_rows, "SELECT kind, value, detail, actor_id, at FROM guild_rules WHERE guild_id = ?"
                                      " ORDER BY kind, value", (guild_id,))
        return [guild_rule(r) for r in rows]

    async def put_rule(self, guild_id: int, kind: RuleKind, value: str, detail: str | None, *, actor_id: int,
                       limit: int | None = None) -> bool:
        now = self.now()
        key = (guild_id, kind.value, value)

        def work(conn: Conn) -> bool:
            row = conn.execute("SELECT detail FROM guild_rules WHERE guild_id = ? AND kind = ? AND value = ?",
                               key).fetchone()
            if row is not None and row[0] == detail:
                return False
            if row is None and limit is not None:
                (count,) = conn.execute("SELECT COUNT(*) FROM guild_rules WHERE guild_id = ? AND kind = ?",
                                        key[:2]).fetchone()
                if count >= limit:
                    raise RuleLimit(kind, limit)
            conn.execute("INSERT INTO guild_rules (guild_id, kind, value, detail, actor_id, at) VALUES (?, ?, ?, ?, ?, ?)"
                         " ON CONFLICT (guild_id, kind, value) DO UPDATE SET detail = excluded.detail,"
                         " actor_id = excluded.actor_id, at = excluded.at", (*key, detail, actor_id, now))
            _record_config(conn, now, guild_id, actor_id, kind, "add", value, {"value": value, "detail": detail})
            return True

        return await self._write(work)

    async def remove_rule(self, guild_id: int, kind: RuleKind, value: str, *, actor_id: int) -> bool:
        now = self.now()

        def work(conn: Conn) -> bool:
            row = conn.execute("DELETE FROM guild_rules WHERE guild_id = ? AND kind = ? AND value = ? RETURNING detail",
                               (guild_id, kind.value, value)).fetchone()
            if row is None:
                return False
            _record_config(conn, now, guild_id, actor_id, kind, "remove", value, {"value": value, "detail": row[0]})
            return True

        return await self._write(work)

    async def clear_rules(self, guild_id: int, kind: RuleKind, *, actor_id: int) -> int:
        now = self.now()

        def work(conn: Conn) -> int:
            values = sorted(v for (v,) in conn.execute(
                "DELETE FROM guild_rules WHERE guild_id = ? AND kind = ? RETURNING value", (guild_id, kind.value)))
            if values:
                _record_config(conn, now, guild_id, actor_id, kind, "clear", None, {"values": values})
            return len(values)

        return await self._write(work)

    async def set_budget(self, guild_id: int, credits: int | None, *, actor_id: int) -> None:
        now = self.now()

        def work(conn: Conn) -> None:
            if credits is None:
                changed = conn.execute("DELETE FROM guild_budgets WHERE guild_id = ? RETURNING 1", (guild_id,))
            else:
                changed = conn.execute(
                    "INSERT INTO guild_budgets (guild_id, daily_credits) VALUES (?, ?) ON CONFLICT (guild_id)"
                    " DO UPDATE SET daily_credits = excluded.daily_credits"
                    " WHERE daily_credits != excluded.daily_credits RETURNING 1", (guild_id, credits))
            if changed.fetchone() is not None:
                _record(conn, now, guild_id, actor_id, "budget", None, {"daily_credits": credits})

        await self._write(work)

    async def recent_jobs(self, guild_id: int, user_id: int, limit: int = 5) -> list[JobRecord]:
        rows = await self._run(_rows, "SELECT id, model, cost, state, created_at, finished_at, error, result_url"
                                      " FROM jobs WHERE guild_id = ? AND user_id = ? ORDER BY id DESC LIMIT ?",
                               (guild_id, user_id, limit))
        return job_records(rows)

    async def guild_usage(self, guild_id: int, since_day: str) -> list[UsageRow]:
        rows = await self._run(_rows, _USAGE_SQL, (guild_id, since_day))
        return [usage_row(r) for r in rows]

    async def job(self, job_id: int) -> JobRecord | None:
        rows = await self._run(_rows, "SELECT * FROM jobs WHERE id = ?", (job_id,))
        return job_record(rows[0]) if rows else None

    async def set_result_message(self, job_id: int, channel_id: int, message_id: int) -> None:
        await self._run(lambda conn: conn.execute(
            "UPDATE jobs SET result_channel_id = ?, result_message_id = ? WHERE id = ?",
            (channel_id, message_id, job_id)))

    async def batch(self, batch_id: int) -> list[JobRecord]:
        return job_records(await self._run(_rows, "SELECT * FROM jobs WHERE batch_id = ? ORDER BY id", (batch_id,)))

    async def member_defaults(self, guild_id: int, user_id: int) -> dict[str, Any]:
        rows = await self._run(_rows, "SELECT name, value FROM member_defaults WHERE guild_id = ? AND user_id = ?",
                               (guild_id, user_id))
        return defaults_of(rows)

    async def set_member_default(self, guild_id: int, user_id: int, name: str, value: Any) -> None:
        key = (guild_id, user_id, name)

        def work(conn: Conn) -> None:
            if value is None:
                conn.execute("DELETE FROM member_defaults WHERE guild_id = ? AND user_id = ? AND name = ?", key)
                return
            conn.execute("INSERT INTO member_defaults (guild_id, user_id, name, value, at) VALUES (?, ?, ?, ?, ?)"
                         " ON CONFLICT (guild_id, user_id, name) DO UPDATE SET value = excluded.value, at = excluded.at",
                         (*key, json.dumps(value), self.now()))

        await self._write(work)

    async def reset_member_defaults(self, guild_id: int, user_id: int) -> int:
        return await self._write(lambda conn: conn.execute(
            "DELETE FROM member_defaults WHERE guild_id = ? AND user_id = ?", (guild_id, user_id)).rowcount)

    async def history(self, guild_id: int, user_id: int, *, model: str | None = None, offset: int = 0,
                      limit: int = 5) -> tuple[list[JobRecord], int]:
        where = "guild_id = ? AND user_id = ?" + (" AND model = ?" if model else "")
        args: tuple[Any, ...] = (guild_id, user_id, model) if model else (guild_id, user_id)

        def work(conn: Conn) -> tuple[list[dict[str, Any]], int]:
            rows = _rows(conn, f"SELECT * FROM jobs WHERE {where} ORDER BY id DESC LIMIT ? OFFSET ?",
                         (*args, limit, offset))
            (total,) = conn.execute(f"SELECT COUNT(*) FROM jobs WHERE {where}", args).fetchone()
            return rows, total

        rows, total = await self._run(work)
        return job_records(rows), total

    async def forget_member(self, user_id: int) -> int:
        return await self._forget("user_id = ?", (user_id,), "actor_id = ?", "user_id = ?")

    async def forget_older_than(self, created_before: float) -> int:
        return await self._forget("created_at < ?", (created_before,), "at < ?", "created_at < ?")

    async def _forget(self, where: str, args: tuple[Any, ...], audit_where: str, appeal_where: str) -> int:
        now = self.now()
        sql = (f"UPDATE jobs SET {_FORGET_SETS}, forgotten_at = ? WHERE {where} AND forgotten_at IS NULL"
               f" AND state NOT IN ({_OPEN_SQL})")

        def work(conn: Conn) -> int:
            cleared = conn.execute(sql, (now, *args)).rowcount
            conn.execute(f"UPDATE reviews SET {_FORGET_REVIEW} WHERE detail IS NOT NULL AND job_id IN"
                         f" (SELECT id FROM jobs WHERE {where} AND forgotten_at IS NOT NULL)", args)
            self._forget_asked(conn, audit_where, appeal_where, args)
            return cleared

        cleared = await self._write(work)
        try:  # the clearing is committed: a log that cannot be emptied now is emptied by a later checkpoint
            await self._thread.run(_checkpoint, self._conn)
        except sqlite3.Error as exc:
            log.warning("after a forget, the write-ahead log could not be emptied (%s); the cleared text stays in "
                        "it until the next checkpoint", exc)
        return cleared

    # -- part 8: appeals and the audit feed ------------------------------------------------------

    @staticmethod
    def _forget_asked(conn: Conn, audit_where: str, appeal_where: str, args: tuple[Any, ...]) -> None:
        """What a member asked for also lives in audit rows (a generation's prompt, the text an appealed
        rule matched) and in appeals not waiting for a moderator; /forget and retention clear it with the jobs."""
        conn.execute(f"UPDATE admin_actions SET detail = json_remove(detail, '$.prompt', '$.rule.matched')"
                     f" WHERE {audit_where} AND action IN (?, ?)",
                     (*args, AuditAction.GENERATION.value, AuditAction.APPEAL.value))
        conn.execute(f"UPDATE appeals SET request = '{{}}', rule = json_remove(rule, '$.matched') WHERE {appeal_where}"
                     " AND status IN (?, ?, ?)",
                     (*args, AppealStatus.ALLOWED.value, AppealStatus.DENIED.value, AppealStatus.OFFERED.value))

    async def create_appeal(self, guild_id: int, channel_id: int, user_id: int, *, model: str,
                            request: dict[str, Any], rule: dict[str, Any], expires_at: float) -> int:
        row = (guild_id, channel_id, user_id, model, json.dumps(request), json.dumps(rule),
               AppealStatus.OFFERED.value, self.now(), expires_at)

        def work(conn: Conn) -> int:
            cur = conn.execute("INSERT INTO appeals (guild_id, channel_id, user_id, model, request, rule, status,"
                               " created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", row)
            assert cur.lastrowid is not None, "an INSERT always gives the new row's id"
            return cur.lastrowid

        return await self._write(work)

    async def appeal(self, appeal_id: int) -> AppealRecord | None:
        rows = await self._run(_rows, "SELECT * FROM appeals WHERE id = ?", (appeal_id,))
        return appeal_record(rows[0]) if rows else None

    async def ask_appeal(self, appeal_id: int, user_id: int) -> bool:
        now = self.now()
        return await self._write(lambda conn: conn.execute(
            "UPDATE appeals SET status = ?, asked_at = ? WHERE id = ? AND user_id = ? AND status = ? AND expires_at > ?",
            (AppealStatus.PENDING.value, now, appeal_id, user_id, AppealStatus.OFFERED.value, now)).rowcount == 1)

    async def reopen_appeal(self, appeal_id: int) -> None:
        await self._write(lambda conn: conn.execute(
            "UPDATE appeals SET status = ?, asked_at = NULL WHERE id = ? AND status = ?",
            (AppealStatus.OFFERED.value, appeal_id, AppealStatus.PENDING.value)))

    async def appeal_posted(self, appeal_id: int, channel_id: int, message_id: int, *, actor_id: int) -> None:
        now = self.now()

        def work(conn: Conn) -> None:
            row = conn.execute("UPDATE appeals SET review_channel_id = ?, review_message_id = ? WHERE id = ?"
                               " RETURNING guild_id, channel_id, model, rule",
                               (channel_id, message_id, appeal_id)).fetchone()
            if row is not None:
                guild_id, asked_in, model, rule = row
                _record(conn, now, guild_id, actor_id, AuditAction.APPEAL.value, actor_id,
                        {"appeal": appeal_id, "channel_id": asked_in, "model": model, "rule": json.loads(rule)})

        await self._write(work)

    async def decide_appeal(self, appeal_id: int, allowed: bool, *, actor_id: int, reason: str | None) -> bool:
        now = self.now()
        status = AppealStatus.ALLOWED if allowed else AppealStatus.DENIED

        def work(conn: Conn) -> bool:
            row = conn.execute("UPDATE appeals SET status = ?, decided_by = ?, decided_at = ?, reason = ?"
                               " WHERE id = ? AND status = ? RETURNING guild_id, user_id",
                               (status.value, actor_id, now, reason, appeal_id, AppealStatus.PENDING.value)).fetchone()
            if row is None:
                return False
            action = AuditAction.ALLOW if allowed else AuditAction.DENY
            _record(conn, now, row[0], actor_id, action.value, row[1], {"appeal": appeal_id, "reason": reason})
            return True

        return await self._write(work)

    async def set_appeal_job(self, appeal_id: int, job_id: int) -> None:
        await self._write(lambda conn: conn.execute("UPDATE appeals SET job_id = ? WHERE id = ?", (job_id, appeal_id)))

    async def unposted_guilds(self) -> list[int]:
        rows = await self._run(lambda conn: conn.execute(
            "SELECT DISTINCT guild_id FROM admin_actions WHERE posted_at IS NULL").fetchall())
        return [r[0] for r in rows]

    async def claim_audit(self, guild_id: int, *, limit: int, lease_seconds: float) -> list[AuditRow]:
        now = self.now()

        def work(conn: Conn) -> list[dict[str, Any]]:
            return _rows(conn, "UPDATE admin_actions SET claimed_until = ? WHERE id IN ("
                               " SELECT id FROM admin_actions WHERE guild_id = ? AND posted_at IS NULL"
                               " AND (claimed_until IS NULL OR claimed_until < ?) ORDER BY id LIMIT ?)"
                               f" RETURNING {_AUDIT_COLUMNS}", (now + lease_seconds, guild_id, now, limit))

        rows = await self._write(work)
        return [audit_row(r) for r in sorted(rows, key=lambda r: r["id"])]  # RETURNING has no order

    async def mark_audit_posted(self, ids: list[int]) -> None:
        now = self.now()
        await self._write(lambda conn: conn.executemany(
            "UPDATE admin_actions SET posted_at = ?, claimed_until = NULL WHERE id = ?", [(now, i) for i in ids]))

    async def release_audit(self, ids: list[int]) -> None:
        await self._write(lambda conn: conn.executemany(
            "UPDATE admin_actions SET claimed_until = NULL WHERE id = ? AND posted_at IS NULL", [(i,) for i in ids]))

    async def skip_audit(self, guild_id: int) -> int:
        now = self.now()
        return await self._write(lambda conn: conn.execute(
            "UPDATE admin_actions SET posted_at = ? WHERE guild_id = ? AND posted_at IS NULL"
            " AND (claimed_until IS NULL OR claimed_until < ?)", (now, guild_id, now)).rowcount)

    async def audit_log(self, guild_id: int, *, member: int | None = None, action: str | None = None,
                        since: float | None = None, offset: int = 0, limit: int = 10) -> tuple[list[AuditRow], int]:
        where = ["guild_id = ?"]
        args: list[Any] = [guild_id]
        if member is not None:
            where.append("(actor_id = ? OR target_id = ?)")
            args += [member, member]
        if action is not None:
            where.append("(action = ? OR substr(action, 1, ?) = ?)")
            args += [action, len(action) + 1, action + "."]
        if since is not None:
            where.append("at >= ?")
            args.append(since)
        condition = " AND ".join(where)

        def work(conn: Conn) -> tuple[list[dict[str, Any]], int]:
            rows = _rows(conn, f"SELECT {_AUDIT_COLUMNS} FROM admin_actions WHERE {condition}"
                               " ORDER BY id DESC LIMIT ? OFFSET ?", (*args, limit, offset))
            (total,) = conn.execute(f"SELECT COUNT(*) FROM admin_actions WHERE {condition}", args).fetchone()
            return rows, total

        rows, total = await self._run(work)
        return [audit_row(r) for r in rows], total

    # -- approval mode and reports (part 8) ------------------------------------------------------

    async def open_review(self, guild_id: int, job_id: int, kind: ReviewKind, user_id: int, *,
                          channel_id: int | None, reason: str | None = None, application_id: int | None = None,
                          token: str | None = None, token_expires_at: float | None = None,
                          detail: str | None = None) -> tuple[int, int]:
        now = self.now()

        def work(conn: Conn) -> tuple[int, int]:
            try:
                cur = conn.execute(
                    "INSERT INTO reviews (guild_id, job_id, kind, user_id, channel_id, reason, application_id,"
                    " interaction_token, token_expires_at, detail, created_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (guild_id, job_id, kind.value, user_id, channel_id, reason, application_id, token,
                     token_expires_at, detail, now))
            except sqlite3.IntegrityError as exc:
                raise AlreadyReviewed(f"job {job_id}: {kind.value} by {user_id} exists ({exc})") from None
            (pending,) = conn.execute("SELECT COUNT(*) FROM reviews WHERE job_id = ? AND kind = ? AND status = ?",
                                      (job_id, kind.value, ReviewState.PENDING.value)).fetchone()
            return int(cur.lastrowid or 0), pending

        return await self._write(work)

    async def set_review_message(self, review_id: int, channel_id: int, message_id: int) -> None:
        await self._write(lambda conn: conn.execute(
            "UPDATE reviews SET review_channel_id = ?, review_message_id = ? WHERE id = ?",
            (channel_id, message_id, review_id)))

    async def set_review_detail(self, review_id: int, detail: str | None) -> None:
        await self._write(lambda conn: conn.execute("UPDATE reviews SET detail = ? WHERE id = ?", (detail, review_id)))

    async def drop_review(self, review_id: int) -> None:
        await self._write(lambda conn: conn.execute("DELETE FROM reviews WHERE id = ? AND status = ?",
                                                    (review_id, ReviewState.PENDING.value)))

    async def review(self, review_id: int) -> ReviewRecord | None:
        rows = await self._run(_rows, "SELECT * FROM reviews WHERE id = ?", (review_id,))
        return review_record(rows[0]) if rows else None

    async def open_reviews(self, job_id: int, kind: ReviewKind) -> list[ReviewRecord]:
        rows = await self._run(_rows, "SELECT * FROM reviews WHERE job_id = ? AND kind = ? AND status = ? ORDER BY id",
                               (job_id, kind.value, ReviewState.PENDING.value))
        return [review_record(r) for r in rows]

    async def reopen_review(self, review_id: int, *, decided_by: int, token: str | None) -> bool:
        return await self._write(lambda conn: conn.execute(
            "UPDATE reviews SET status = ?, decided_by = NULL, decided_at = NULL, interaction_token = ?"
            " WHERE id = ? AND decided_by = ? AND status != ?",
            (ReviewState.PENDING.value, token, review_id, decided_by, ReviewState.PENDING.value)).rowcount == 1)

    async def reported_by(self, job_id: int, user_id: int) -> bool:
        rows = await self._run(_rows, "SELECT id FROM reviews WHERE job_id = ? AND kind = ? AND user_id = ?",
                               (job_id, ReviewKind.REPORT.value, user_id))
        return bool(rows)

    async def decide_review(self, review_id: int, status: ReviewState, *, decided_by: int,
                            reason: str | None = None) -> Decision | None:
        now = self.now()
        pending = ReviewState.PENDING.value

        def work(conn: Conn) -> Decision | None:
            # BEGIN IMMEDIATE holds the write lock from the first read: no other decision interleaves.
            found = _rows(conn, "SELECT * FROM reviews WHERE id = ?", (review_id,))
            if not found:
                return None
            row = found[0]
            if status not in DECISIONS[ReviewKind(row["kind"])]:
                raise ValueError(f"{status} is no decision for a {row['kind']} review")
            sets = "status = ?, decided_by = ?, decided_at = ?, interaction_token = NULL"
            won = conn.execute(f"UPDATE reviews SET {sets}, reason = COALESCE(?, reason) WHERE id = ? AND status = ?",
                               (status.value, decided_by, now, reason, review_id, pending)).rowcount == 1
            also: list[dict[str, Any]] = []
            if won and row["kind"] == ReviewKind.REPORT.value:
                ids = [r for (r,) in conn.execute("SELECT id FROM reviews WHERE job_id = ? AND kind = ? AND status = ?",
                                                  (row["job_id"], row["kind"], pending))]
                conn.execute(f"UPDATE reviews SET {sets} WHERE job_id = ? AND kind = ? AND status = ?",
                             (status.value, decided_by, now, row["job_id"], row["kind"], pending))
                also = _rows(conn, "SELECT * FROM reviews WHERE id IN (SELECT value FROM json_each(?)) ORDER BY id",
                             (json.dumps(ids),))
            (now_row,) = _rows(conn, "SELECT * FROM reviews WHERE id = ?", (review_id,))
            return Decision(won, review_record(now_row), [review_record(r) for r in also])

        return await self._write(work)

    # -- leases (part 9) -------------------------------------------------------------------------

    async def renew(self, owner: str, job_ids: list[int], lease_seconds: float) -> set[int]:
        """Push the leases `owner` still holds on `job_ids` forward; returns those it still holds."""
        if not job_ids:
            return set()
        until = self.now() + lease_seconds
        marks = ", ".join("?" for _ in job_ids)
        rows = await self._write(lambda conn: conn.execute(
            f"UPDATE jobs SET lease_until = ? WHERE id IN ({marks}) AND state = ? AND lease_owner = ? RETURNING id",
            (until, *job_ids, _RUNNING, owner)).fetchall())
        return {r[0] for r in rows}

    @asynccontextmanager
    async def singleton(self, name: str) -> AsyncIterator[bool]:
        yield True  # the DATA_DIR lock (bot/core/instance_lock.py): no other process uses this ledger


# Days are ISO dates, so text order is date order and `day >= ?` is a range on the index.
_USAGE_SQL = ("SELECT day, model, user_id, SUM(cost) AS credits, COUNT(*) AS jobs FROM jobs"
              f" WHERE guild_id = ? AND day >= ? AND state NOT IN ({_REFUNDED_SQL})"
              " GROUP BY day, model, user_id ORDER BY day, model, user_id")

_AUDIT_SQL = """
WITH ledger AS (
  SELECT guild_id, user_id, day, SUM(CASE WHEN state NOT IN (""" + _REFUNDED_SQL + """) THEN cost ELSE 0 END) AS credits
  FROM jobs GROUP BY guild_id, user_id, day
), ledger_global AS (
  SELECT day, SUM(CASE WHEN state NOT IN (""" + _REFUNDED_SQL + """) THEN cost ELSE 0 END) AS credits FROM jobs GROUP BY day
), ledger_guild AS (
  SELECT guild_id, day, SUM(CASE WHEN state NOT IN (""" + _REFUNDED_SQL + """) THEN cost ELSE 0 END) AS credits
  FROM jobs GROUP BY guild_id, day
)
SELECT 'member', l.guild_id || '/' || l.user_id || '/' || l.day, COALESCE(u.credits, 0), l.credits
  FROM ledger AS l LEFT JOIN usage AS u USING (guild_id, user_id, day)
  WHERE COALESCE(u.credits, 0) != l.credits
UNION ALL
SELECT 'global', l.day, COALESCE(g.credits, 0), l.credits
  FROM ledger_global AS l LEFT JOIN usage_global AS g USING (day)
  WHERE COALESCE(g.credits, 0) != l.credits
UNION ALL
SELECT 'server', l.guild_id || '/' || l.day, COALESCE(s.credits, 0), l.credits
  FROM ledger_guild AS l LEFT JOIN usage_guild AS s USING (guild_id, day)
  WHERE COALESCE(s.credits, 0) != l.credits
UNION ALL
SELECT 'server', s.guild_id || '/' || s.day, s.credits, 0
  FROM usage_guild AS s LEFT JOIN ledger_guild AS l USING (guild_id, day)
  WHERE l.credits IS NULL AND s.credits != 0
"""
