"""The review rows behind approval mode and reports, on both ledgers: one approval per job, one report
per member per result, and the first decision wins, however many moderators press at once."""

from __future__ import annotations

import asyncio

import pytest

from bot.domain.reviews import AlreadyReviewed, ReviewKind, ReviewState
from bot.storage import Member, Store

GUILD = 10
ALICE = Member(GUILD, 1, ())
TOKEN = "interaction-token-of-the-request"


@pytest.fixture
async def store(backend):
    s = await backend.open()
    yield s
    await s.close()


async def finished_job(store: Store) -> int:
    job_id, _ = await store.reserve(ALICE, channel_id=5, model="sdxl", params={"prompt": "x"}, cost=2,
                                    default_allowance=20, max_jobs=10, global_cap=None)
    await store.succeed(job_id, "https://x/y.png")
    return job_id


async def test_an_approval_keeps_what_the_decision_needs_and_is_decided_once(store):
    job = await finished_job(store)
    review_id, pending = await store.open_review(GUILD, job, ReviewKind.APPROVAL, 1, channel_id=5, application_id=77,
                                                 token=TOKEN, token_expires_at=store.now() + 900, detail='{"e": 1}')
    assert pending == 1
    await store.set_review_message(review_id, 600, 601)
    row = await store.review(review_id)
    assert row is not None
    assert (row["status"], row["kind"], row["user_id"], row["channel_id"]) == ("pending", "approval", 1, 5)
    assert (row["review_channel_id"], row["review_message_id"], row["interaction_token"]) == (600, 601, TOKEN)
    with pytest.raises(AlreadyReviewed):  # one approval per job
        await store.open_review(GUILD, job, ReviewKind.APPROVAL, 1, channel_id=5)

    decision = await store.decide_review(review_id, ReviewState.REJECTED, decided_by=9, reason="off topic")
    assert decision is not None and decision.won
    assert (decision.review["status"], decision.review["decided_by"], decision.review["reason"]) == ("rejected", 9, "off topic")
    assert decision.review["interaction_token"] is None, "the credential goes with the decision"
    assert decision.review["decided_at"] is not None

    again = await store.decide_review(review_id, ReviewState.APPROVED, decided_by=8)
    assert again is not None and not again.won
    assert (again.review["status"], again.review["decided_by"]) == ("rejected", 9), "the first decision stands"
    assert await store.decide_review(review_id + 1000, ReviewState.APPROVED, decided_by=8) is None
    with pytest.raises(ValueError):
        await store.decide_review(review_id, ReviewState.KEPT, decided_by=8)  # no decision for an approval

    # A decision Discord would not carry out is undone by its own moderator only, token and all.
    assert not await store.reopen_review(review_id, decided_by=8, token=TOKEN)
    assert await store.reopen_review(review_id, decided_by=9, token=TOKEN)
    row = await store.review(review_id)
    assert row is not None
    assert (row["status"], row["decided_by"], row["decided_at"], row["interaction_token"]) == ("pending", None, None, TOKEN)
    assert not await store.reopen_review(review_id, decided_by=9, token=TOKEN), "only a decided row reopens"
    again = await store.decide_review(review_id, ReviewState.APPROVED, decided_by=8)
    assert again is not None and again.won


async def test_two_moderators_deciding_at_once_make_exactly_one_decision(store, backend):
    other = await backend.open()  # a second process on the same ledger
    try:
        for _ in range(5):
            job = await finished_job(store)
            review_id, _ = await store.open_review(GUILD, job, ReviewKind.APPROVAL, 1, channel_id=5)
            results = await asyncio.gather(
                *(s.decide_review(review_id, state, decided_by=mod)
                  for s, state, mod in ((store, ReviewState.APPROVED, 8), (other, ReviewState.REJECTED, 9),
                                        (store, ReviewState.REJECTED, 7), (other, ReviewState.APPROVED, 6))))
            winners = [d for d in results if d is not None and d.won]
            assert len(winners) == 1
            final = await store.review(review_id)
            assert final is not None and final["decided_by"] == winners[0].review["decided_by"]
            assert {d.review["decided_by"] for d in results if d is not None} == {final["decided_by"]}, \
                "the losers are told who decided"
    finally:
        await other.close()


async def test_one_report_per_member_and_a_decision_settles_every_open_report(store, backend):
    job = await finished_job(store)
    assert not await store.reported_by(job, 21)
    first, pending = await store.open_review(GUILD, job, ReviewKind.REPORT, 21, channel_id=5, reason="gross")
    assert pending == 1 and await store.reported_by(job, 21) and not await store.reported_by(job, 22)
    with pytest.raises(AlreadyReviewed):
        await store.open_review(GUILD, job, ReviewKind.REPORT, 21, channel_id=5)
    second, pending = await store.open_review(GUILD, job, ReviewKind.REPORT, 22, channel_id=5)
    assert pending == 2
    assert [r["id"] for r in await store.open_reviews(job, ReviewKind.REPORT)] == [first, second]

    # Keep on one report and Remove on the other, at once: one decision settles both.
    other = await backend.open()
    try:
        keep, remove = await asyncio.gather(store.decide_review(first, ReviewState.KEPT, decided_by=8),
                                            other.decide_review(second, ReviewState.REMOVED, decided_by=9))
    finally:
        await other.close()
    assert keep is not None and remove is not None
    assert [keep.won, remove.won].count(True) == 1
    winner = keep if keep.won else remove
    assert [r["id"] for r in winner.also] == [second if keep.won else first]
    assert {r["status"] for r in winner.also} == {winner.review["status"]}
    assert await store.open_reviews(job, ReviewKind.REPORT) == []
    rows = [await store.review(i) for i in (first, second)]
    assert {(r["status"], r["decided_by"]) for r in rows if r} == {(winner.review["status"], winner.review["decided_by"])}

    assert await store.reported_by(job, 21), "a decided report still counts as the member's one report"
    # A report after the decision is a new one, and counts from one again.
    _, pending = await store.open_review(GUILD, job, ReviewKind.REPORT, 23, channel_id=5)
    assert pending == 1


async def test_a_review_whose_post_failed_is_dropped_and_details_can_be_kept(store):
    job = await finished_job(store)
    review_id, _ = await store.open_review(GUILD, job, ReviewKind.REPORT, 21, channel_id=5)
    await store.set_review_detail(review_id, '{"hidden": true}')
    row = await store.review(review_id)
    assert row is not None and row["detail"] == {"hidden": True}
    await store.drop_review(review_id)
    assert await store.review(review_id) is None
    again, _ = await store.open_review(GUILD, job, ReviewKind.REPORT, 21, channel_id=5)
    assert again != review_id, "the member may report again once the failed report is gone"
