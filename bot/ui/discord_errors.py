"""Discord's errors counted for /metrics, as discord.py's own HTTP session sees them.

Every REST call discord.py makes (the bot's, interaction responses, the courier's webhook edits) goes
through one aiohttp session, and discord.py takes an `aiohttp.TraceConfig` for it (`http_trace`). So
every 4xx and 5xx Discord answers is counted here, the ones discord.py retries and the ones a caller
catches alike, by route class (its ids and tokens replaced: bot/core/metrics.py) and status; a request
that got no answer at all counts as "no_answer".
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import aiohttp

from bot.core.metrics import Metrics


def discord_errors(metrics: Metrics) -> aiohttp.TraceConfig:
    async def answered(session: aiohttp.ClientSession, context: SimpleNamespace,
                       params: aiohttp.TraceRequestEndParams) -> None:
        if params.response.status >= 400:
            metrics.discord_error(params.method, params.url.path, params.response.status)

    async def unanswered(session: aiohttp.ClientSession, context: SimpleNamespace,
                         params: aiohttp.TraceRequestExceptionParams) -> None:
        if not isinstance(params.exception, asyncio.CancelledError):  # the caller stopped waiting
            metrics.discord_error(params.method, params.url.path, "no_answer")

    trace = aiohttp.TraceConfig()
    trace.on_request_end.append(answered)
    trace.on_request_exception.append(unanswered)
    return trace
