"""The composition root: `python -m bot [--sync]`.

Builds the settings, one aiohttp session, the store and the Pixazo client, and hands them to the bot.
Nothing else opens a session or a database connection of its own.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys

import aiohttp
import discord
import yarl

from bot import logs
from bot.app import PixazoBot
from bot.offload import Offload
from bot.pixazo import PixazoClient, RetryPolicy
from bot.redact import Redactor
from bot.services.generation import GenerationService
from bot.services.quotas import Quotas
from bot.settings import Settings, SettingsError, load_settings
from bot.storage import SchemaTooNew, StoreBusy, StoreUnavailable, open_store
from bot.storage.settle_journal import SettleJournal

log = logging.getLogger("bot")


def point_discord_at(settings: Settings) -> None:
    """Let the REST base and gateway be swapped (a rate-limit proxy in production, a fake in tests)."""
    discord.http.Route.BASE = settings.discord_api_base_url
    if settings.discord_gateway_url:
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(settings.discord_gateway_url)


def pixazo_client(settings: Settings, session: aiohttp.ClientSession, *, offload: Offload | None = None,
                  redactor: Redactor | None = None) -> PixazoClient:
    return PixazoClient(
        session,
        base_url=settings.pixazo_base_url,
        api_key=settings.pixazo_api_key,
        timeout=settings.pixazo_timeout_seconds,
        max_concurrency=settings.pixazo_max_concurrency,
        max_image_bytes=settings.pixazo_max_image_bytes,
        require_https_results=settings.pixazo_require_https_results,
        retry=RetryPolicy(attempts=settings.pixazo_max_attempts, base_delay=settings.pixazo_retry_base_delay_seconds,
                          total_seconds=settings.pixazo_retry_budget_seconds),
        offload=offload,
        redactor=redactor or Redactor(settings.secrets),
    )


async def serve(settings: Settings, *, force_sync: bool = False) -> None:
    """Run until cancelled or until Discord closes the connection for good."""
    point_discord_at(settings)
    # limit=0: concurrency is bounded by PIXAZO_MAX_CONCURRENCY and Discord's own limits, not the pool.
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        redactor = Redactor(settings.secrets)
        offload = Offload(settings.image_workers, name="image")
        journal_offload = Offload(1, name="settle-journal")  # its own thread: never queued behind image work
        journal = SettleJournal(settings.settle_journal_path, journal_offload)
        # Delivered jobs the last run could not record are applied first, then the rest are released.
        store = await open_store(settings, delivered=journal.read())
        journal.clear()
        quotas = Quotas(settings, store)
        pixazo = pixazo_client(settings, session, offload=offload, redactor=redactor)
        generation = GenerationService(settings, store, pixazo, quotas, journal=journal, redactor=redactor)
        try:
            bot = PixazoBot(settings, store=store, generation=generation, quotas=quotas,
                            http_session=session, offload=offload, redactor=redactor, force_sync=force_sync)
            async with bot:
                await bot.start(settings.discord_token.get_secret_value())
        finally:
            await generation.shutdown()
            await store.close()
            offload.close()
            journal_offload.close()


async def run_until_signalled(settings: Settings, *, force_sync: bool) -> None:
    """`serve`, stopped cleanly by SIGTERM (docker stop) or SIGINT, so running jobs are refunded."""
    task = asyncio.current_task()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, task.cancel)
    try:
        await serve(settings, force_sync=force_sync)
    except asyncio.CancelledError:
        log.info("stopped by signal; shut down cleanly")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot", description="Pixazo image generation for Discord.")
    parser.add_argument("--sync", action="store_true", help="sync slash commands with Discord even if unchanged")
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"bot: {exc}", file=sys.stderr)
        return 2
    logs.configure(settings.log_level, settings.secrets)
    try:
        asyncio.run(run_until_signalled(settings, force_sync=args.sync))
    except (StoreUnavailable, SchemaTooNew) as exc:
        log.error("%s", exc)
        return 1
    except StoreBusy as exc:
        log.error("the database %s is locked by another process (is a second bot using DATA_DIR?): %s",
                  settings.database_path, exc)
        return 1
    except discord.LoginFailure:
        log.error("Discord refused DISCORD_TOKEN; check the token in the Developer Portal (Bot > Reset Token)")
        return 1
    except (aiohttp.ClientConnectionError, discord.GatewayNotFound, OSError) as exc:
        log.error("could not reach Discord at %s (%s: %s); check the network and DISCORD_API_BASE_URL",
                  settings.discord_api_base_url, type(exc).__name__, exc)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
