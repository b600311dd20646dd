"""A job that nothing waits before starts from its own reservation (StartNow, alone on SQLite): through the real
discord.py against the fakes, its result comes without a claim, and a reservation whose answer is lost after it
added the job running does not leave that job held and never run."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

import bot.__main__ as composition_root
from bot.domain import JobState, WriteInDoubt
from tests.conftest import GUILD_ID, eventually, make_settings, started_bot
from tests.ledger import CountingStore, jobs, open_view, quiet

USER_ID = 4100


class LostAnswers(CountingStore):
    """The real store, but a reservation asked to start its job at once adds it (running, when nothing waits)
    and then loses its answer, as a dropped connection would: the job is never handed over. Others pass."""

    def __getattr__(self, name: str) -> Any:
        if name != "enqueue":
            return super().__getattr__(name)

        async def enqueue(*args: Any, start: Any = None, **kwargs: Any) -> Any:
            self.calls.append(name)
            if start is None:  # a reservation that only queues: answered as usual
                return await self._store.enqueue(*args, **kwargs)
            await self._store.enqueue(*args, start=dataclasses.replace(start, started=lambda job: None), **kwargs)
            raise WriteInDoubt("the connection was lost as the reservation was answered")

        return enqueue


@pytest.fixture
def lost_answers(monkeypatch: pytest.MonkeyPatch) -> list[LostAnswers]:
    made: list[LostAnswers] = []
    real_open = composition_root.open_ledger

    async def open_lossy(*args: Any, **kwargs: Any) -> Any:
        made.append(LostAnswers(await real_open(*args, **kwargs)))
        return made[-1]

    monkeypatch.setattr(composition_root, "open_ledger", open_lossy)
    return made


async def test_a_job_started_by_a_reservation_whose_answer_was_lost_is_put_back_and_delivered(
        tmp_path, fake_discord, fake_pixazo, lost_answers):
    settings = make_settings(tmp_path, fake_discord, fake_pixazo)
    async with started_bot(settings, fake_discord):
        # A first job, claimed: until the queue has looked once, jobs the last run left may be waiting.
        warm = await fake_discord.invoke("sdxl-lightning", {"prompt": "a warm-up"}, user_id=USER_ID - 1)
        assert (await warm.wait_followup())["embeds"]
        await quiet(lost_answers[0])
        interaction = await fake_discord.invoke("sdxl-lightning", {"prompt": "a red fox in snow"}, user_id=USER_ID)
        answer = await interaction.wait_followup()
        assert "If it was queued, your image will follow here" in (answer.get("content") or ""), answer
        await eventually(lambda: any(m.get("embeds") for m in interaction.followups), timeout=10)
        await quiet(lost_answers[0])
        assert "requeue_orphans" in lost_answers[0].calls, "the dispatch put back what it held and did not run"
    async with open_view(settings) as view:
        rows = await jobs(view, GUILD_ID, USER_ID)
    assert [(r["state"], r["attempts"]) for r in rows] == [(JobState.SUCCEEDED, 1)], "delivered once, charged once"
    assert [r.json["prompt"] for r in fake_pixazo.requests if isinstance(r.json, dict)] == ["a warm-up",
                                                                                            "a red fox in snow"]
