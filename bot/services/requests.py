"""A generation request, from a slash command or a button, on its way to the queue: what the moderation
gates let through (`Admission`), and the job's `Delivery`, built here and nowhere else."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.domain import Member
from bot.domain.delivery import Delivery
from bot.moderation.config import NEGATIVE_PROMPT, SPOILER, GuildConfig
from bot.moderation.gates import Asker
from bot.moderation.review import review_target
from bot.services.moderation import Moderation
from bot.services.queue import QueueRunner
from bot.services.validation import Prepared, with_negative


@dataclass(frozen=True)
class Requester:
    """Who asked, as their result shows them; the ui reads it off the interaction."""

    member: Member
    name: str
    avatar_url: str | None
    application_id: int
    filesize_limit: int | None
    locale: str = "en-US"  # the member's Discord locale


@dataclass(frozen=True)
class Admission:
    """A request every moderation gate let through, and what the server's settings add to it."""

    config: GuildConfig
    asker: Asker
    review: int | None = None  # approval mode: the review channel the result waits in
    only_me: bool = False  # the member's "results only to me" (/settings), where the server allows it
    unseen_server: bool = False  # a server that did not add the bot: the result is the member's alone

    @property
    def private(self) -> bool:
        """In approval mode even "thinking…" is the member's alone: nothing shows until approved. In a
        server that did not add the bot, everything is: the bot cannot know that server's rules; and so is
        everything the member asked to see alone."""
        return self.review is not None or self.unseen_server or self.only_me

    @property
    def ephemeral_result(self) -> bool:
        """The result itself is the member's alone (approval mode shows it publicly once approved)."""
        return self.review is None and (self.unseen_server or self.only_me)

    @property
    def spoiler(self) -> bool:
        return self.asker.age_restricted and bool(self.config.get(SPOILER))

    def shape(self, prepared: Prepared) -> Prepared:
        """The server's negative prompt goes to Pixazo, not into what the member typed: a Reroll adds it once."""
        return with_negative(prepared, self.config.get(NEGATIVE_PROMPT))


@dataclass(frozen=True)
class Made:
    """How the loop made a request, as its result shows it: the server style used, the options the
    member's defaults filled in; and a batch's size."""

    style: str | None = None
    from_defaults: tuple[str, ...] = ()
    count: int = 1


AS_ASKED = Made()  # a request made as the member asked it, with no style or defaults


def make_delivery(prepared: Prepared, requester: Requester, admission: Admission, *, note: str | None = None,
                  thumbnail_url: str | None = None, holds_inputs: bool = False, made: Made = AS_ASKED,
                  index: int = 0) -> Delivery:
    """What the queued row keeps to deliver the job without the interaction object (after a restart)."""
    return Delivery(application_id=requester.application_id, prompt=prepared.prompt, shown=prepared.shown,
                    role_ids=requester.member.role_ids, requester=requester.name, avatar_url=requester.avatar_url,
                    filesize_limit=requester.filesize_limit, thumbnail_url=thumbnail_url, note=note or None,
                    spoiler=admission.spoiler, age_restricted=admission.asker.age_restricted,
                    review=admission.review, personal=requester.member.personal, private=admission.ephemeral_result,
                    style=made.style, from_defaults=made.from_defaults, batch_index=index, batch_size=made.count,
                    locale=requester.locale, holds_inputs=holds_inputs)


class Requests:
    def __init__(self, moderation: Moderation, queue: QueueRunner) -> None:
        self._moderation = moderation
        self._queue = queue

    async def admit(self, guild_id: int, asker: Asker, prepared: Prepared, *, private: bool = False) -> Admission:
        """The moderation gates, for slash commands and buttons alike (raises the first Refusal); then
        where the result must wait, if anywhere (refused here when approval has no review channel).
        `guild_id` may be PERSONAL: the bot's own rules, no approval. `private`: asked in a server that
        did not add the bot, whose result only the member sees."""
        config = await self._moderation.admit(guild_id, asker, prepared.model.key, prepared.prompt)
        return Admission(config, asker, review_target(config, asker), unseen_server=private)

    async def submit(self, prepared: Prepared, requester: Requester, admission: Admission, *, channel_id: int | None,
                     token: str | None, inputs: dict[str, Any] | None = None, note: str | None = None,
                     thumbnail_url: str | None = None, holds_inputs: bool = False, made: Made = AS_ASKED) -> int:
        """Queue the job: credits reserved now (a refusal raises, nothing spent); the queue runs and
        delivers it. `token` is the interaction's (None: the result is a channel post naming the member)."""
        delivery = make_delivery(prepared, requester, admission, note=note, thumbnail_url=thumbnail_url,
                                 holds_inputs=holds_inputs, made=made)
        return await self._queue.submit(admission.shape(prepared), requester.member, channel_id=channel_id,
                                        delivery=delivery, token=token, inputs=inputs)

    async def submit_batch(self, prepared: tuple[Prepared, ...], requester: Requester, admission: Admission, *,
                           channel_id: int | None, token: str, made: Made, note: str | None = None) -> list[int]:
        """Queue a batch, one job per image, all at once or none (one refusal for the whole); each runs in
        its fair place in the queue and its result joins the batch's one message."""
        made = Made(made.style, made.from_defaults, len(prepared))
        deliveries = [make_delivery(p, requester, admission, note=note, made=made, index=n)
                      for n, p in enumerate(prepared)]
        return await self._queue.submit_batch([admission.shape(p) for p in prepared], requester.member,
                                              channel_id=channel_id, deliveries=deliveries, token=token)
