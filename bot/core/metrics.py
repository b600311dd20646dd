"""What an operator can watch: one Prometheus registry per bot process, counted by the layers that see
each fact (the queue and the generation service: jobs, waits, credits, leases; the Pixazo client: its
calls; the ui: Discord's errors) and served at /metrics (bot/services/monitor.py).

Every metric carries `shard`: the shards this process runs ("0,1", or "all"). No label ever holds a
member's, a server's or a channel's id, a prompt or a token: models, outcomes, statuses and route
classes are a small, fixed set, so a scrape stays small whatever the bot does.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST

__all__ = ["CONTENT_TYPE_LATEST", "Metrics", "route_class", "shard_label"]

# Without it every counter and histogram also exports a `_created` timestamp per series: twice the
# series, for a value Prometheus itself does not use.
disable_created_metrics()

PREFIX = "pixazo_bot"
# Seconds: a queue wait runs from instant to QUEUE_MAX_WAIT_SECONDS (an hour); a run up to the job deadline.
WAIT_BUCKETS = (0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)
RUN_BUCKETS = (1, 2.5, 5, 10, 20, 30, 45, 60, 90, 120, 300, 600, 900)
LAG_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)
LAG_PROBE_SECONDS = 0.5

# A REST path's ids and tokens, so a route is a class ("PATCH /webhooks/{id}/{token}/messages/@original")
# and never names a server, a channel, a message or an interaction's credential.
_API_PREFIX = re.compile(r"^.*?/api/v\d+")
_TOKEN_AFTER = frozenset({"webhooks", "interactions"})
_WORD = re.compile(r"^@?[a-z][a-z_-]{0,31}$")


def shard_label(shard_ids: tuple[int, ...] | None) -> str:
    return "all" if shard_ids is None else ",".join(map(str, shard_ids))


def route_class(method: str, path: str) -> str:
    """The route's shape without its ids: digits become {id}, an interaction's or webhook's token
    {token}, anything else that is not a plain word (an emoji, a name) {x}."""
    parts = _API_PREFIX.sub("", path).strip("/").split("/")
    shaped: list[str] = []
    for n, part in enumerate(parts):
        if part.isdigit():
            shaped.append("{id}")
        elif n >= 2 and parts[n - 2] in _TOKEN_AFTER and parts[n - 1].isdigit():
            shaped.append("{token}")
        else:
            shaped.append(part if _WORD.match(part) else "{x}")
    return f"{method.upper()} /{'/'.join(shaped)}"


class Metrics:
    """The bot's metrics on a registry of its own (a test, or a bench, may run several bots in one
    process). The methods are what the layers call; each costs a dictionary lookup and an addition."""

    def __init__(self, shard: str = "all") -> None:
        self.shard = shard
        self.registry = r = CollectorRegistry(auto_describe=True)
        s = ("shard",)
        self.jobs = Counter(f"{PREFIX}_jobs", "Jobs that ended here, by model and outcome (succeeded, failed, "
                            "cancelled, expired)", [*s, "model", "outcome"], registry=r)
        self.credits_spent = Counter(f"{PREFIX}_credits_spent", "Credits spent: jobs whose image the member "
                                     "received", [*s, "model"], registry=r)
        self.credits_refunded = Counter(f"{PREFIX}_credits_refunded", "Credits given back: jobs that failed, "
                                        "were cancelled or waited too long", [*s, "model"], registry=r)
        self.wait = Histogram(f"{PREFIX}_job_wait_seconds", "From queued to claimed by this process",
                              [*s, "model"], buckets=WAIT_BUCKETS, registry=r)
        self.run = Histogram(f"{PREFIX}_job_run_seconds", "From claimed to ended here (Pixazo, delivery, settle)",
                             [*s, "model"], buckets=RUN_BUCKETS, registry=r)
        self.queue_depth = Gauge(f"{PREFIX}_queue_depth", "Jobs waiting in the queue, every process's (read "
                                 "from the ledger at each scrape)", s, registry=r)
        self.queue_running = Gauge(f"{PREFIX}_queue_running", "Jobs this process is running now", s, registry=r)
        self.ledger_up = Gauge(f"{PREFIX}_ledger_up", "1 when the ledger answered this scrape and takes writes, "
                               "else 0", s, registry=r)
        self.pixazo_calls = Counter(f"{PREFIX}_pixazo_calls", "Pixazo calls (each try) by model, call "
                                    "(generate, result) and status", [*s, "model", "call", "status"], registry=r)
        self.pixazo_retries = Counter(f"{PREFIX}_pixazo_retries", "Pixazo calls tried again after a failure",
                                      [*s, "model", "call"], registry=r)
        self.discord_errors = Counter(f"{PREFIX}_discord_errors", "Discord answers of 4xx/5xx (and requests that "
                                      "got no answer), by route class and status", [*s, "route", "status"],
                                      registry=r)
        self.lease_takeovers = Counter(f"{PREFIX}_lease_takeovers", "Jobs whose lease moved: taken (this process "
                                       "ran a job whose run was cut short) or lost (another process took one of "
                                       "this process's)", [*s, "kind"], registry=r)
        self.loop_lag = Histogram(f"{PREFIX}_event_loop_lag_seconds", "How late the event loop woke for a "
                                  f"{LAG_PROBE_SECONDS:g} s sleep", s, buckets=LAG_BUCKETS, registry=r)
        self.image_pool_backlog = Gauge(f"{PREFIX}_image_pool_backlog", "Image work (decode, check, re-encode) "
                                        "waiting for a worker thread", s, registry=r)
        self.image_pool_busy = Gauge(f"{PREFIX}_image_pool_busy", "Image worker threads at work", s, registry=r)
        # Each series' child, once: prometheus_client's labels() validates and locks on every call (about
        # as long as the increment itself); the label sets are small and fixed, so this stays small.
        self._children: dict[tuple[object, ...], Any] = {}

    def _at(self, metric: Any, *labels: str) -> Any:
        child = self._children.get((metric, *labels))
        if child is None:
            child = self._children[(metric, *labels)] = metric.labels(self.shard, *labels)
        return child

    # -- jobs (bot/services) ---------------------------------------------------------------------

    def job_claimed(self, model: str, waited: float, *, rerun: bool) -> None:
        self._at(self.wait, model).observe(max(0.0, waited))
        if rerun:
            self._at(self.lease_takeovers, "taken").inc()

    def job_ran(self, model: str, seconds: float) -> None:
        self._at(self.run, model).observe(max(0.0, seconds))

    def job_ended(self, model: str, outcome: str, cost: int) -> None:
        """`outcome` succeeded (its credits stay spent), or failed, cancelled or expired (refunded)."""
        self._at(self.jobs, model, outcome).inc()
        if cost > 0:
            self._at(self.credits_spent if outcome == "succeeded" else self.credits_refunded, model).inc(cost)

    def lease_lost(self) -> None:
        self._at(self.lease_takeovers, "lost").inc()

    # -- Pixazo (bot/pixazo) and Discord (bot/ui) ------------------------------------------------

    def pixazo_call(self, model: str, call: str, status: str) -> None:
        self._at(self.pixazo_calls, model, call, status).inc()

    def pixazo_retry(self, model: str, call: str) -> None:
        self._at(self.pixazo_retries, model, call).inc()

    def discord_error(self, method: str, path: str, status: int | str) -> None:
        self._at(self.discord_errors, route_class(method, path), str(status)).inc()

    # -- the process -----------------------------------------------------------------------------

    async def watch_loop_lag(self, interval: float = LAG_PROBE_SECONDS) -> None:
        """Sleep `interval` again and again; how much later than asked the loop woke is its lag."""
        loop = asyncio.get_running_loop()
        lag = self.loop_lag.labels(self.shard)
        while True:
            asked = loop.time()
            await asyncio.sleep(interval)
            lag.observe(max(0.0, loop.time() - asked - interval))

    def render(self) -> bytes:
        return generate_latest(self.registry)
