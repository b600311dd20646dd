"""The composition root: `python -m bot [--sync | --health]`.

Builds the settings, one aiohttp session, the store, the Pixazo client and the services, and hands the
services (never the store) to the bot; starts the queue once the bot has logged in, and stops
everything in order: the queue (its running jobs delivered), the bot, then the settles, Pixazo's
client and the store.
Nothing else opens a session or a database connection of its own, except the Pixazo client's session
for result images, whose resolver refuses private addresses (bot/pixazo/public_hosts.py).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

import aiohttp
import discord
import yarl
from discord.ext import commands

from bot.core import health, logs, memory
from bot.core.instance_lock import InstanceLock
from bot.core.metrics import Metrics, shard_label
from bot.core.offload import Offload
from bot.core.preflight import DISK_ERRNOS, StartupError, check_data_dir, unwritable
from bot.core.redact import Redactor
from bot.core.settings import Settings, SettingsError, load_file_settings, load_settings
from bot.pixazo import PixazoClient, RetryPolicy
from bot.services.container import Services, build_services
from bot.services.generation import GenerationService
from bot.services.queue import QueueRunner
from bot.services.quotas import Quotas
from bot.storage import SchemaTooNew, StoreBusy, StoreMisconfigured, StoreUnavailable
from bot.storage.lease import new_owner
from bot.storage.open import open_at_start
from bot.storage.roles import Store
from bot.storage.settle_journal import RESERVE_BYTES, SettleJournal
from bot.ui.app import EXTENSIONS, PixazoBot
from bot.ui.delivery import WebhookCourier
from bot.ui.sync import sync_if_changed

if TYPE_CHECKING:
    from bot.storage.postgres.notify import ConfigListener

log = logging.getLogger("bot")


def point_discord_at(settings: Settings) -> None:
    """Let the REST base and gateway be swapped (a rate-limit proxy in production, a fake in tests)."""
    discord.http.Route.BASE = settings.discord_api_base_url
    if settings.discord_gateway_url:
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(settings.discord_gateway_url)


def pixazo_client(settings: Settings, session: aiohttp.ClientSession, *, offload: Offload | None = None,
                  redactor: Redactor | None = None, metrics: Metrics | None = None) -> PixazoClient:
    return PixazoClient(
        session,
        base_url=settings.pixazo_base_url,
        api_key=settings.pixazo_api_key,
        timeout=settings.pixazo_timeout_seconds,
        max_concurrency=None,  # the queue runs PIXAZO_MAX_CONCURRENCY jobs at once
        max_image_bytes=settings.pixazo_max_image_bytes,
        require_https_results=settings.pixazo_require_https_results,
        allow_private_result_hosts=settings.pixazo_result_allow_private_hosts,
        decode_timeout=settings.image_work_timeout_seconds,
        retry=RetryPolicy(attempts=settings.pixazo_max_attempts, base_delay=settings.pixazo_retry_base_delay_seconds,
                          total_seconds=settings.pixazo_retry_budget_seconds),
        offload=offload,
        redactor=redactor or Redactor(settings.secrets),
        metrics=metrics,
    )


def gateway_state(bot: discord.Client) -> str:
    """What the heartbeat reports: only an open gateway socket after READY is "connected"."""
    if bot.is_closed():
        return "closed"
    if not bot.is_ready():
        return "starting"
    if isinstance(bot, discord.AutoShardedClient):  # every shard this process runs must be up
        shards = bot.shards.values()
        return health.CONNECTED if shards and not any(s.is_closed() for s in shards) else "reconnecting"
    return health.CONNECTED if bot.ws is not None and bot.ws.open else "reconnecting"


async def listen(settings: Settings, store: Store, services: Services) -> ConfigListener | None:
    """What other processes do reaches this one as it happens, so nothing polls for it. PostgreSQL: a
    /config change made by any process empties that server's cache entry here too; a job queued by
    another process kicks the queue; an audit row recorded by any process wakes the audit poster; a
    member's defaults changed by another process (/forget) are read again here.
    SQLite (one process): only the audit rows, which the ledger calls back as it writes them."""
    moderation, queue, audit_feed = services.moderation, services.queue, services.audit_feed
    await store.watch_audit(audit_feed.recorded)
    if settings.database_url is None:
        return None  # Moderation already empties the cache on each change; submit kicks the queue
    import asyncpg

    from bot.storage.postgres.notify import ConfigListener

    def changed(guild_id: int | None) -> None:
        if guild_id is None:
            moderation.cache.invalidate_all()
        else:
            moderation.cache.invalidate(guild_id)

    def queued(owner: str | None) -> None:
        if owner != store.owner:  # this process's own jobs kicked its queue already
            queue.wakeups.queued_elsewhere()

    def recorded(guild_id: str | None) -> None:
        if guild_id is None or not guild_id.isdigit():
            audit_feed.wake()
        else:
            audit_feed.recorded(int(guild_id))

    def defaults_changed(user_id: str | None) -> None:  # /forget in another process, say
        services.imagine.forgotten(int(user_id) if user_id is not None and user_id.isdigit() else None)

    listener = ConfigListener(settings.database_url.get_secret_value(), changed,
                              poll_seconds=settings.config_poll_seconds,
                              others={"jobs": queued, "audit_rows": recorded, "member_defaults": defaults_changed})
    try:
        await listener.start()
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        raise StoreUnavailable(f"could not listen for configuration changes on the DATABASE_URL database: "
                               f"{type(exc).__name__}") from None
    queue.wakeups.listening()
    return listener



async def serve(settings: Settings) -> None:
    """Run until cancelled or until Discord closes the connection for good."""
    point_discord_at(settings)
    # Before any connection: a DATA_DIR problem must not be reported as a network one.
    await asyncio.to_thread(check_data_dir, settings.data_dir)
    # One process per DATA_DIR (so one per SQLite ledger), held until this process ends.
    instance = InstanceLock.take(settings.data_dir, sqlite=settings.database_url is None)
    try:
        await _serve(settings, instance_id=instance.instance_id())
    finally:
        instance.release()


async def open_ledger(settings: Settings, journal: SettleJournal, instance_id: str) -> Store:
    """The settle journal's space, then the ledger: delivered jobs the last run could not record are
    applied first, then the rest are released."""
    delivered = journal.read()
    # Its space first, while the disk has room: a disk that fills up later cannot stop a delivery
    # from being recorded. Kept from run to run, so a full disk at start needs no new block here.
    try:
        await journal.reserve()
    except OSError as exc:
        if exc.errno not in DISK_ERRNOS:
            raise
        raise unwritable(settings.data_dir, f"the settle journal {journal.path} could not reserve its "
                         f"{RESERVE_BYTES // 1024} KiB ({exc.strerror})", code=exc.errno) from None
    # This process's name on the job leases it takes; the instance id lets it take over at once the
    # jobs its predecessor on this DATA_DIR left running (bot/storage/lease.py).
    return await open_at_start(settings, delivered=delivered, owner=new_owner(instance_id))


async def _serve(settings: Settings, *, instance_id: str) -> None:
    # limit=0: concurrency is bounded by PIXAZO_MAX_CONCURRENCY and Discord's own limits, not the pool.
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        redactor = Redactor(settings.secrets)
        offload = Offload(settings.image_workers, name="image")
        journal_offload = Offload(1, name="settle-journal")  # its own thread: never queued behind image work
        journal = SettleJournal(settings.settle_journal_path, journal_offload)
        try:
            store = await open_ledger(settings, journal, instance_id)
        except BaseException:
            journal.close()
            journal_offload.close()
            offload.close()
            raise
        await journal.clear()
        quotas = Quotas(settings, store)
        metrics = Metrics(shard_label(settings.shard_ids))  # this process's, served by services.monitor
        pixazo = pixazo_client(settings, session, offload=offload, redactor=redactor, metrics=metrics)
        generation = GenerationService(settings, store, pixazo, quotas, journal=journal, redactor=redactor)
        services = build_services(settings, store, generation, quotas, session=session, offload=offload,
                                  metrics=metrics)
        listener: ConfigListener | None = None
        try:
            # The bot holds the services, never the store; the queue stops first whenever it closes, so
            # running jobs are delivered while Discord's HTTP client is still open.
            bot = PixazoBot(settings, services=services, http_session=session, offload=offload, redactor=redactor,
                            before_close=services.queue.shutdown, metrics=metrics)
            services.queue.courier = WebhookCourier(bot)
            listener = await listen(settings, store, services)
            async with bot, health.heartbeat(settings.heartbeat_path, settings.heartbeat_interval_seconds,
                                             lambda: gateway_state(bot)), services.monitor.serving():
                await run_bot(bot, services.queue, settings.discord_token.get_secret_value())
        finally:
            if listener is not None:
                await listener.close()
            await generation.shutdown()
            await pixazo.close()
            await store.close()
            offload.close()
            journal.close()
            journal_offload.close()


async def run_bot(bot: PixazoBot, queue: QueueRunner, token: str) -> None:
    """Log in (the extensions load, the buttons register and the commands sync: setup_hook), start the
    queue, which may deliver from then on, then connect to the gateway until closed."""
    try:
        await bot.login(token)
        queue.start()
        await bot.connect()
    finally:
        await queue.shutdown()


async def run_until_signalled(work: Coroutine[Any, Any, None]) -> None:
    """`work` (`serve`, or `sync_commands`), stopped cleanly by SIGTERM (docker stop) or SIGINT: the bot
    starts no new job, running Pixazo calls get SHUTDOWN_GRACE_SECONDS to finish and be delivered, and
    the jobs still running then go back to the queue for the next start."""
    task = asyncio.current_task()
    assert task is not None, "asyncio.run gives every coroutine a task"
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, task.cancel)
    try:
        await work
    except asyncio.CancelledError:
        log.info("stopped by signal; shut down cleanly")


async def sync_commands(settings: Settings) -> None:
    """`--sync`: tell Discord the bot's commands now, then stop. Beside a running bot too: it logs in
    over HTTP only (no gateway session), opens no ledger and takes no DATA_DIR lock; it writes only
    DATA_DIR/command-sync.json, the record of what was synced that the next start reads."""
    point_discord_at(settings)
    await asyncio.to_thread(check_data_dir, settings.data_dir)
    client = commands.Bot(command_prefix=commands.when_mentioned, help_command=None, intents=discord.Intents.none())
    async with client:
        await client.login(settings.discord_token.get_secret_value())
        for name in EXTENSIONS:  # the same command definitions the bot syncs at start
            await client.load_extension(name)
        await sync_if_changed(client.tree, settings.data_dir / "command-sync.json", dev_guild_id=settings.dev_guild_id,
                              force=True)


def discord_refused(exc: discord.HTTPException) -> str:
    """One line for an HTTP error that ended the start: which call, what Discord said, what to do."""
    path = exc.response.url.path if exc.response is not None else ""
    # Webhook and interaction paths carry interaction tokens; none is called before the bot is up.
    call = ("at login" if path.endswith("/users/@me") else "syncing commands" if path.endswith("/commands")
            else "at start" if "/webhooks/" in path or "/interactions/" in path
            else f"at start ({exc.response.method} {path})")
    if exc.status >= 500:
        return f"Discord answered HTTP {exc.status} {call}; Discord is having trouble, try again later"
    return f"Discord refused a request {call}: HTTP {exc.status}, code {exc.code}: {exc.text}"


def check_health() -> int:
    """`--health`: 0 if the running bot's heartbeat is fresh and it is connected, else 1 (never 2, which
    Docker reserves). Reads only DATA_DIR, so it needs no secret."""
    try:
        files = load_file_settings()
    except SettingsError as exc:
        print(f"unhealthy: {exc.lines[0]}")
        return 1
    ok, why = health.check(files.heartbeat_path, files.heartbeat_interval_seconds)
    print(f"{'healthy' if ok else 'unhealthy'}: {why}")
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    """Exit 0 after a clean stop; 2 when the operator must change something first (a setting, the
    token, DATA_DIR, its disk full or read-only, the database's password, user, name or host); 1 when
    trying again later may work (Discord or the database server unreachable or failing)."""
    parser = argparse.ArgumentParser(prog="python -m bot", description="Pixazo image generation for Discord.")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--sync", action="store_true",
                      help="sync the slash commands with Discord now, even if unchanged, and exit (the running bot "
                           "may stay up)")
    mode.add_argument("--health", action="store_true",
                      help="exit 0 if the running bot is connected to Discord (its heartbeat in DATA_DIR), else 1")
    args = parser.parse_args(argv)
    if args.health:
        return check_health()
    memory.return_big_allocations()
    try:
        settings = load_settings()
    except SettingsError as exc:
        for line in exc.lines:
            print(f"bot: {line}", file=sys.stderr)
        return 2
    logs.configure(settings.log_level, settings.secrets, fmt=settings.log_format,
                   shard=shard_label(settings.shard_ids))
    return run(settings, sync=args.sync)


def run(settings: Settings, *, sync: bool) -> int:
    """The bot (or `--sync`) until it stops; the exit code and one line for what stopped it."""
    try:
        asyncio.run(run_until_signalled(sync_commands(settings) if sync else serve(settings)))
    except StoreBusy as exc:  # not StoreDown: bot/storage/open.py makes that a StartupError or StoreUnavailable
        log.error("the database %s is locked by another process (is a second bot using DATA_DIR?): %s",
                  settings.database_path if settings.database_url is None else "at DATABASE_URL", exc)
        return 1
    except (StartupError, SchemaTooNew, StoreMisconfigured) as exc:
        log.error("%s", exc)
        return 2
    except StoreUnavailable as exc:  # DATABASE_URL's server: unreachable now, perhaps not in a minute
        log.error("%s", exc)
        return 1
    except discord.LoginFailure:
        log.error("Discord refused DISCORD_TOKEN; check the token in the Developer Portal (Bot > Reset Token)")
        return 2
    except discord.HTTPException as exc:
        log.error("%s", discord_refused(exc))
        return 1
    except (aiohttp.ClientConnectionError, discord.GatewayNotFound, TimeoutError) as exc:
        log.error("could not reach Discord at %s (%s: %s); check the network and DISCORD_API_BASE_URL",
                  settings.discord_api_base_url, type(exc).__name__, exc)
        return 1
    except OSError as exc:  # a file, not the network: those are aiohttp's errors, caught above
        if exc.errno in DISK_ERRNOS:  # DATA_DIR's disk: full, read-only or failing; the operator must act
            log.error("%s", unwritable(settings.data_dir, f"{exc.filename or 'a file'} could not be written "
                                                          f"({exc.strerror})", code=exc.errno))
            return 2
        log.error("could not use %s: %s", exc.filename or "a file", exc.strerror or exc)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
