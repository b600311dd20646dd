"""Made-up presses through the real discord.py against the fakes, on SQLite and on a real PostgreSQL.

An interaction is JSON from outside: its custom_id can name another server's job, review or appeal, or a
number no row can have. Every button and form must answer those as unknown and change nothing, whoever
presses and whatever permissions they hold where they press.
"""

from __future__ import annotations

import discord
import pytest

from bot.domain.reviews import ReviewKind
from bot.ui.app import EXTENSIONS
from tests.conftest import CHANNEL_ID, GUILD_ID, TOKEN, eventually, is_ephemeral
from tests.e2e.test_queue_e2e import cancel_id
from tests.fakes.discord import DEFAULT_MEMBER_PERMISSIONS, FakeDiscord
from tests.ledger import jobs, open_view, read_jobs

OTHER_GUILD = GUILD_ID + 1
OTHER_CHANNEL = CHANNEL_ID + 1  # the fake gives guild i the channel CHANNEL_ID + i
MANAGE_MESSAGES = 1 << 13
MODERATOR = DEFAULT_MEMBER_PERMISSIONS | MANAGE_MESSAGES
ALICE, BOB, CAROL, MOD = 4001, 4002, 4003, 8000

IMAGE = "That image is no longer known to the bot."
REVIEW = "This review is no longer known to the bot."
REQUEST = "That request is no longer known to the bot."
NOT_THE_MEMBERS = "Only the member who opened this can use these buttons."

# Every button, by the row its custom_id names: {job}, {review} (approval), {report}, {appeal}, {member}.
BUTTONS = {
    "queue:cancel:{waiting}": IMAGE,
    "result:reroll:{job}": IMAGE,
    "result:edit:{job}": IMAGE,
    "result:details:{job}": IMAGE,
    "result:delete:{job}": IMAGE,
    "result:report:{job}": IMAGE,
    "result:zoom-1.5:{job}": IMAGE,
    "result:zoom-2:{job}": IMAGE,
    "result:pan-left:{job}": IMAGE,
    "result:pan-right:{job}": IMAGE,
    "result:pan-up:{job}": IMAGE,
    "result:pan-down:{job}": IMAGE,
    "result:vary:{job}": IMAGE,
    "batch:use:{job}": IMAGE,
    "batch:reroll:{job}": IMAGE,
    "review:approve:{review}": REVIEW,
    "review:reject:{review}": REVIEW,
    "review:keep:{report}": REVIEW,
    "review:remove:{report}": REVIEW,
    "appeal:ask:{appeal}": REQUEST,
    "appeal:allow:{appeal}": REQUEST,
    "appeal:deny:{appeal}": REQUEST,
    "history:page:{member}:5:": NOT_THE_MEMBERS,
    "forget:confirm:{member}": NOT_THE_MEMBERS,
    "forget:cancel:{member}": NOT_THE_MEMBERS,
}
# Every form, by the text inputs it is submitted with.
FORMS = {
    "result:edit-modal:{job}": ({"prompt": "a made-up edit", "other": ""}, IMAGE),
    "result:report-modal:{job}": ({"reason": "made up"}, IMAGE),
    "result:zoom-1.5-form:{job}": ({"prompt": "made up"}, IMAGE),
    "result:pan-up-form:{job}": ({"prompt": "made up"}, IMAGE),
    "result:vary-form:{job}": ({"prompt": "made up"}, IMAGE),
    "review:reject-modal:{review}": ({"reason": "made up"}, REVIEW),
    "appeal:deny-form:{appeal}": ({"reason": "made up"}, REQUEST),
}


@pytest.fixture
async def fake_discord():
    fake = FakeDiscord(token=TOKEN, guilds=[GUILD_ID, OTHER_GUILD], channel_id=CHANNEL_ID)
    await fake.start()
    yield fake
    await fake.close()


@pytest.fixture
def ledger_settings(backend) -> dict:
    return backend.settings


async def answered(interaction) -> str:
    callback = await interaction.wait_callback()
    assert callback["type"] == 4 and is_ephemeral(callback["data"]), callback
    assert callback["data"]["allowed_mentions"]["parse"] == []
    return callback["data"]["content"]


async def rows_in_server_a(harness) -> dict[str, int]:
    """A finished result, a job waiting behind a running one, an approval and a report waiting for a
    moderator in a review channel, an appeal sent to the moderators: all in server A."""
    _, result = await harness.answer("sdxl", {"prompt": "a lighthouse at dusk"}, user_id=ALICE)
    assert result["embeds"]
    harness.pixazo.latency = 30  # the next job holds the only slot; the one after it waits
    await harness.invoke("sdxl", {"prompt": "running"}, user_id=BOB)
    await eventually(lambda: len(harness.pixazo.requests) == 2)
    waiting = await harness.invoke("sdxl", {"prompt": "waiting"}, user_id=ALICE)
    await eventually(lambda: waiting.original is not None and cancel_id(waiting.original) is not None, timeout=5)
    review_channel = await harness.discord.add_channel(GUILD_ID, name="mod-review")
    async with open_view(harness.settings) as store:
        done, queued = [j["id"] for j in await jobs(store, GUILD_ID, ALICE)]
        approval, _ = await store.open_review(GUILD_ID, done, ReviewKind.APPROVAL, ALICE, channel_id=CHANNEL_ID,
                                              detail="{}")
        report, _ = await store.open_review(GUILD_ID, done, ReviewKind.REPORT, CAROL, channel_id=CHANNEL_ID)
        for review in (approval, report):
            await store.set_review_message(review, review_channel, 1)
        appeal = await store.create_appeal(GUILD_ID, CHANNEL_ID, ALICE, model="sdxl", request={"prompt": "x"},
                                           rule={"rule": "word", "term": "x", "matched": "x"},
                                           expires_at=store.now() + 900)
        assert await store.ask_appeal(appeal, ALICE)
        await store.appeal_posted(appeal, review_channel, 2, actor_id=ALICE)
    return {"job": done, "waiting": queued, "review": approval, "report": report, "appeal": appeal,
            "member": ALICE, "review_channel": review_channel, "notice": waiting}


async def nothing_changed(harness, ids: dict) -> None:
    async with open_view(harness.settings) as store:
        assert (await store.job(ids["waiting"]))["state"] == "queued", "not cancelled"
        assert (await store.job(ids["job"]))["forgotten_at"] is None, "not forgotten"
        assert [r["status"] for r in (await store.review(ids["review"]), await store.review(ids["report"]))] == [
            "pending", "pending"]
        assert [r["id"] for r in await store.open_reviews(ids["job"], ReviewKind.REPORT)] == [ids["report"]]
        assert (await store.appeal(ids["appeal"]))["status"] == "pending"
    assert len(harness.pixazo.requests) == 2, "nothing was run again"
    assert await read_jobs(harness.settings, OTHER_GUILD, ALICE, MOD) == []
    assert "position 1 of 1" in ids["notice"].original["content"], "the waiting job's notice is untouched"
    assert not any(m["channel_id"] == str(ids["review_channel"]) for m in harness.discord.messages.values())


@pytest.mark.parametrize("bot_settings", [{"pixazo_max_concurrency": 1, "progress_interval_seconds": 0.3}])
async def test_no_button_or_form_acts_on_another_servers_rows(harness):
    ids = await rows_in_server_a(harness)
    for template, sentence in BUTTONS.items():
        custom_id = template.format(**ids)
        message = harness.discord.bot_message(OTHER_CHANNEL, [custom_id])  # a message in server B
        # The row's own member pressing in another server, and a moderator of that server.
        for user in (ALICE, MOD) if sentence != NOT_THE_MEMBERS else (MOD,):
            click = await harness.discord.click(message, custom_id, user_id=user, permissions=MODERATOR)
            assert await answered(click) == sentence, custom_id
    for template, (values, sentence) in FORMS.items():
        custom_id = template.format(**ids)
        form = await harness.discord.submit_form(custom_id, values, user_id=MOD, guild_id=OTHER_GUILD,
                                                 permissions=MODERATOR)
        assert await answered(form) == sentence, custom_id
    # In server A but not where the row's buttons are: a moderator of the general channel is not one of
    # the review channel.
    here = harness.discord.bot_message(CHANNEL_ID, [f"review:approve:{ids['review']}", f"appeal:allow:{ids['appeal']}"])
    for custom_id in (f"review:approve:{ids['review']}", f"appeal:allow:{ids['appeal']}"):
        click = await harness.discord.click(here, custom_id, user_id=MOD, permissions=MODERATOR)
        assert await answered(click) in (REVIEW, REQUEST)
    await nothing_changed(harness, ids)
    assert "belongs to guild" in harness.log_text(), "the operator sees what was tried"

    # Where the buttons really are, the same presses work: the waiting job's own Cancel, by its member.
    notice = ids["notice"]
    cancel = await harness.discord.click(notice.original, cancel_id(notice.original), user_id=ALICE)
    assert (await cancel.wait_callback())["type"] == 7
    assert "Cancelled by" in notice.original["content"]
    await harness.pixazo.close()  # ends the hanging call so the test stops quickly


@pytest.mark.parametrize("number", ["9999999999999999999", "9223372036854775808", "0", "1" * 40])
async def test_an_id_no_row_can_have_is_unknown_for_every_button_and_form(harness, number):
    ids = dict.fromkeys(("job", "waiting", "review", "report", "appeal", "member"), number)
    for template, sentence in BUTTONS.items():
        custom_id = template.format(**ids)
        message = harness.discord.bot_message(CHANNEL_ID, [custom_id])
        click = await harness.discord.click(message, custom_id, user_id=ALICE, permissions=MODERATOR)
        expected = "These buttons are no longer known to the bot." if sentence == NOT_THE_MEMBERS else sentence
        assert await answered(click) == expected, custom_id
    for template, (values, sentence) in FORMS.items():
        form = await harness.discord.submit_form(template.format(**ids), values, user_id=ALICE,
                                                 permissions=MODERATOR)
        assert await answered(form) == sentence, template
    assert "Traceback" not in harness.log_text() and "Overflow" not in harness.log_text()


def test_every_persistent_button_is_in_these_tests():
    """A new button must be added above, so it is pressed from another server too."""
    import importlib

    for name in (*EXTENSIONS, "bot.ui.items"):
        importlib.import_module(name)
    templates = {cls.__discord_ui_compiled_template__ for cls in _subclasses(discord.ui.DynamicItem)}
    covered = [template.format(**dict.fromkeys(("job", "waiting", "review", "report", "appeal", "member"), 7))
               for template in BUTTONS]
    assert templates, "the cogs register their buttons as DynamicItems"
    for pattern in templates:
        assert any(pattern.fullmatch(custom_id) for custom_id in covered), f"{pattern.pattern} is not pressed above"


def _subclasses(cls: type) -> set[type]:
    found = set()
    for sub in cls.__subclasses__():
        if hasattr(sub, "__discord_ui_compiled_template__"):
            found.add(sub)
        found |= _subclasses(sub)
    return found
