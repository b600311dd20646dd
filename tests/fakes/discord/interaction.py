"""What the fake keeps of each interaction it injects: its callbacks, followups and edits, and waiting for them."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from .wire import EPHEMERAL

if TYPE_CHECKING:
    from .state import Actor, DiscordState


class FakeInteraction:
    """One injected interaction and everything the bot answered to it."""

    def __init__(
        self,
        fake: DiscordState,
        *,
        id: str,
        token: str,
        kind: int,
        label: str,
        actor: Actor,
        payload: dict,
        message_id: str | None = None,
    ):
        loop = asyncio.get_running_loop()
        self._fake = fake
        self.id = id
        self.token = token
        self.kind = kind  # 2 application command, 3 component, 4 autocomplete, 5 form submission
        self.label = label  # "/echo" or "click echo:again" — for error messages
        self.actor = actor
        self.payload = payload  # the INTERACTION_CREATE data sent to the bot
        self.message_id = message_id  # component interactions: the clicked message
        self.callbacks: list[dict] = []
        self.followups: list[dict] = []
        self.edits: list[dict] = []
        self.created_at: float = loop.time()
        self.callback_at: float | None = None
        self.expired = False
        self.original_id: str | None = None  # what /messages/@original refers to
        self._placeholder_pending = False  # a "thinking…" message the next followup will replace
        self._own_messages: set[str] = set()
        self._answer: dict | None = None
        self._callback_event = asyncio.Event()
        self._answer_event = asyncio.Event()

    @staticmethod
    def ephemeral(msg: dict) -> bool:
        return bool((msg.get("flags") or 0) & EPHEMERAL)

    @property
    def original(self) -> dict | None:
        """The message @original currently is (None before a message-creating callback)."""
        return self._fake.messages.get(self.original_id) if self.original_id else None

    @property
    def choices(self) -> list[dict] | None:
        """What an autocomplete (type 8) callback offered, None before one."""
        answers = [c for c in self.callbacks if c.get("type") == 8]
        return list((answers[0].get("data") or {}).get("choices") or []) if answers else None

    def expire(self, status: int = 401) -> None:
        """Simulate the 15-minute token expiry: later webhook calls get 401 Invalid Webhook Token
        (or, with status=404, 404 Unknown Webhook, which Discord also answers for a dead token)."""
        self.expired = True
        self.expired_status = status

    async def wait_callback(self, timeout: float = 5) -> dict:
        await self._wait(self._callback_event, timeout, "interaction callback")
        return self.callbacks[0]

    async def wait_followup(self, timeout: float = 10) -> dict:
        """The answer the user sees after the thinking state.

        The first followup, or the first edit of @original carrying content, embeds or files —
        whichever comes first — as the resulting message dict plus "_files" (what was uploaded
        with it) and "_payload" (the raw JSON the bot sent).
        """
        await self._wait(self._answer_event, timeout, "followup or edit of @original")
        assert self._answer is not None
        return self._answer

    async def _wait(self, event: asyncio.Event, timeout: float, what: str) -> None:
        try:
            await asyncio.wait_for(event.wait(), timeout)
        except TimeoutError:
            mine = [f"{r.method} {r.path} -> {r.status}" for r in self._fake.requests if self.token in r.path]
            raise AssertionError(
                f"{self.label}: no {what} within {timeout}s. Requests for this interaction: {mine or 'none'}"
                + (" (a 404 on the callback means it came after fake.callback_deadline)" if mine else "")
            ) from None

    def _set_answer(self, message: dict, files: list, payload: Any) -> None:
        if self._answer is None:
            self._answer = {**message, "_files": files, "_payload": payload}
            self._answer_event.set()
