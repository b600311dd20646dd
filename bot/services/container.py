"""Every service, built once by the composition root (bot/__main__.py) on one store: what the bot
object carries instead of the store. Cogs and the ui call these; only these call the store."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import aiohttp

from bot.core.metrics import Metrics
from bot.core.offload import Offload
from bot.core.settings import Settings
from bot.moderation.image_check import ImageCheck
from bot.services.appeals import AppealDesk
from bot.services.audit import AuditLog
from bot.services.audit_feed import AuditFeed
from bot.services.batch_holds import BatchHolds
from bot.services.edits import Edits
from bot.services.generation import GenerationService
from bot.services.history import History
from bot.services.image_check import ImageChecks
from bot.services.imagine import Imagine
from bot.services.inpaint import Inpainter
from bot.services.instance import Instance
from bot.services.lookups import Lookups
from bot.services.moderation import Moderation
from bot.services.monitor import Monitor
from bot.services.queue import QueueRunner
from bot.services.quotas import Quotas
from bot.services.requests import Requests
from bot.services.results import Results
from bot.services.reviews import ReviewDesk
from bot.storage.roles import Store


@dataclass(frozen=True)
class Services:
    quotas: Quotas
    moderation: Moderation
    generation: GenerationService
    queue: QueueRunner
    requests: Requests
    inpaint: Inpainter
    edits: Edits
    results: Results
    reviews: ReviewDesk
    appeals: AppealDesk
    history: History
    audit_log: AuditLog
    audit_feed: AuditFeed
    image_checks: ImageChecks
    lookups: Lookups
    instance: Instance
    imagine: Imagine
    monitor: Monitor
    batch_holds: BatchHolds


def build_services(settings: Settings, store: Store, generation: GenerationService, quotas: Quotas, *,
                   session: aiohttp.ClientSession, offload: Offload, queue: QueueRunner | None = None,
                   metrics: Metrics | None = None) -> Services:
    moderation = Moderation(store)  # /config and the gates every generation passes
    queue = queue or QueueRunner(settings, store, generation, quotas, metrics=metrics)
    requests = Requests(moderation, queue)
    imagine = Imagine(store)  # keeps members' defaults; /forget drops them (History's forgotten)
    detector = ImageCheck(settings.image_check_classes, enabled=settings.image_check)
    return Services(
        quotas=quotas, moderation=moderation, generation=generation, queue=queue, requests=requests,
        inpaint=Inpainter(settings, session, offload, quotas), edits=Edits(settings, session, offload, quotas),
        results=Results(store),
        reviews=ReviewDesk(store, moderation, until_landed=generation.until_landed, later=generation.later),
        appeals=AppealDesk(settings, store, moderation, requests),
        history=History(store, forgotten=imagine.forgotten), audit_log=AuditLog(store),
        audit_feed=AuditFeed(store, moderation, interval=settings.audit_post_interval_seconds,
                             clock=asyncio.get_running_loop().time),
        image_checks=ImageChecks(settings, moderation, detector, offload), lookups=Lookups(store),
        instance=Instance(store), imagine=imagine,
        monitor=Monitor(settings, store, queue, offload, queue.metrics),
        batch_holds=BatchHolds(store, seconds=settings.job_lease_seconds))
