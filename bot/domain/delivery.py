"""What a queued job keeps to be delivered without the interaction that asked for it (after a restart
too): one typed record, built in one place (`bot/services/requests.py`), stored as JSON in the job's
row and read back once, by the storage boundary (`bot/storage/records.py`)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

DEFAULT_FILESIZE_LIMIT = 10 * 1024 * 1024  # Discord's upload limit where nothing else is known
# How a job's error begins when its finished image reached no one (the command's reply had expired and
# the member's DMs were closed): refunded, and /history says so.
UNDELIVERED = "undelivered"


class Delivery(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    application_id: int = 0  # the bot's application: with the job's interaction token, the webhook to answer on
    prompt: str | None = None  # what the member typed (None: a row from before the durable queue)
    shown: tuple[tuple[str, Any], ...] = ()  # (option, value) for every parameter used, as the embed shows them
    role_ids: tuple[int, ...] = ()  # the member's roles when asked: their allowance
    requester: str | None = None  # the member's display name, for the result's author line
    avatar_url: str | None = None
    filesize_limit: int | None = None  # the channel's upload limit when asked
    thumbnail_url: str | None = None  # /inpaint: the original image, shown beside the result
    note: str | None = None  # shown above the result: "Reroll of job #N", "Allowed once by ..."
    spoiler: bool = False  # an age-restricted channel whose server wants results as spoilers
    age_restricted: bool = False  # asked in an age-restricted channel: the image check does not run
    review: int | None = None  # approval mode: the review channel the result waits in first
    personal: bool = False  # paid by personal credits (no server decides): only the member may press its buttons
    # Delivered as the member's alone (ephemeral): asked in a server that did not add the bot, or the
    # member chose "results only to me" (/settings) where the server allows it.
    private: bool = False
    batch_index: int = 0  # a batch's images share one message: this one's place in it (0-based)
    batch_size: int = 1
    style: str | None = None  # the server style the prompt was put through
    from_defaults: tuple[str, ...] = ()  # the options the member's or the server's defaults filled in
    locale: str = "en-US"  # the member's Discord locale: their result, notices and failures are in it
    # The interaction's own message holds the job's inputs (an edit's canvas and mask, which Pixazo fetches
    # from it): the result is posted as a new message, never over that one.
    holds_inputs: bool = False

    @property
    def upload_limit(self) -> int:
        return self.filesize_limit or DEFAULT_FILESIZE_LIMIT

    @property
    def in_batch(self) -> bool:
        return self.batch_size > 1
