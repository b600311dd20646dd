"""The operator's window: `/metrics` (Prometheus' text format) and `/healthz` on METRICS_HOST:METRICS_PORT,
off unless METRICS_PORT is set.

Counters and histograms are kept up to date by the layers that see each fact (bot/core/metrics.py);
what only the ledger knows (how many jobs wait, every process's) is read once per scrape, one query on
an index with a short deadline, so a scrape costs the database what one waiting notice does. /healthz
answers what `python -m bot --health` does (the heartbeat: connected to Discord, and fresh) and
whether the ledger takes writes: 200 and one line, or 503 and why.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Protocol

from aiohttp import web

from bot.core import health
from bot.core.metrics import CONTENT_TYPE_LATEST, Metrics
from bot.core.offload import Offload
from bot.core.preflight import StartupError
from bot.core.settings import Settings
from bot.domain import StoreBusy
from bot.services.queue import QueueRunner
from bot.storage.roles import JobQueue, Lifecycle

log = logging.getLogger(__name__)

SAMPLE_TIMEOUT_SECONDS = 2.0  # a scrape that waits longer for the ledger reports it down, not a hang


class MonitorStore(JobQueue, Lifecycle, Protocol):
    """The queue's depth, and whether the ledger takes writes (its outage)."""


class Monitor:
    def __init__(self, settings: Settings, store: MonitorStore, queue: QueueRunner, offload: Offload,
                 metrics: Metrics) -> None:
        self._settings = settings
        self._store = store
        self._queue = queue
        self._offload = offload
        self.metrics = metrics

    async def sample(self) -> None:
        """What only the ledger and this process know now: the gauges, just before a scrape renders."""
        m, shard = self.metrics, self.metrics.shard
        m.queue_running.labels(shard).set(self._queue.running)
        m.image_pool_backlog.labels(shard).set(self._offload.waiting)
        m.image_pool_busy.labels(shard).set(self._offload.busy)
        try:
            async with asyncio.timeout(SAMPLE_TIMEOUT_SECONDS):
                depth = len(await self._store.queue_positions())
        except (StoreBusy, TimeoutError):  # StoreDown too: the store logs its outage once
            m.ledger_up.labels(shard).set(0)
            return
        except Exception as exc:  # the scrape still answers, with the ledger shown down
            log.warning("metrics: could not read the queue's depth from the ledger: %s: %s", type(exc).__name__, exc)
            m.ledger_up.labels(shard).set(0)
            return
        m.queue_depth.labels(shard).set(depth)
        m.ledger_up.labels(shard).set(0 if self._store.outage.down else 1)

    async def health(self) -> tuple[bool, str]:
        """(healthy, one line): the heartbeat as --health reads it, then the ledger."""
        ok, why = await asyncio.to_thread(health.check, self._settings.heartbeat_path,
                                          self._settings.heartbeat_interval_seconds)
        if ok and self._store.outage.down:
            return False, "the ledger can't be written right now (the log says why)"
        return ok, why

    @contextlib.asynccontextmanager
    async def serving(self) -> AsyncIterator[None]:
        """The HTTP server and the event-loop probe while the body runs; nothing at all without METRICS_PORT."""
        port = self._settings.metrics_port
        if port is None:
            yield
            return
        host = self._settings.metrics_host
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/healthz", self._healthz)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        try:
            await web.TCPSite(runner, host, port).start()
        except OSError as exc:
            await runner.cleanup()
            raise StartupError(f"METRICS_PORT: could not listen on {host}:{port} "
                               f"({exc.strerror or exc}); choose another port, or leave it empty") from None
        log.info("metrics on http://%s:%d/metrics, health on /healthz", host, port)
        probe = asyncio.create_task(self.metrics.watch_loop_lag(), name="event-loop-lag")
        try:
            yield
        finally:
            probe.cancel()
            await asyncio.gather(probe, return_exceptions=True)
            await runner.cleanup()

    async def _metrics(self, request: web.Request) -> web.Response:
        await self.sample()
        return web.Response(body=self.metrics.render(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def _healthz(self, request: web.Request) -> web.Response:
        ok, why = await self.health()
        return web.Response(text=f"{'healthy' if ok else 'unhealthy'}: {why}\n", status=200 if ok else 503)
