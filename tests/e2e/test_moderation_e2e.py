"""Per-server moderation where members and admins meet it: /config through the real discord.py, the
gates in their order, prompt rules, spoilers, the added negative prompt, Reroll under the same gates,
and a restart keeping every setting. Every scenario runs on SQLite and on a real PostgreSQL."""

from __future__ import annotations

import time

import pytest

from bot.storage import Member
from tests.conftest import GUILD_ID, embed_fields, eventually, is_ephemeral, make_settings, started_bot
from tests.e2e.test_results_e2e import button_ids
from tests.fakes.discord import DEFAULT_MEMBER_PERMISSIONS
from tests.ledger import open_view, read_jobs

MANAGE_GUILD = 1 << 5
ADMIN = DEFAULT_MEMBER_PERMISSIONS | MANAGE_GUILD
ALICE = 4000
ARTIST = 7001  # a role id
PROMPT = "a lighthouse at dusk"


@pytest.fixture
def ledger_settings(backend) -> dict:
    return backend.settings


async def config(harness, sub: str, options: dict | None = None, **kwargs) -> dict:
    """An admin's /config command; what they read back."""
    kwargs.setdefault("permissions", ADMIN)
    interaction = await harness.invoke("config", options or {}, subcommand=sub, user_id=9000, username="mod", **kwargs)
    callback = await interaction.wait_callback()
    if callback["type"] == 4:
        return callback["data"]
    return await interaction.wait_followup()


async def ask(harness, prompt: str = PROMPT, command: str = "sdxl", **kwargs) -> dict:
    _, message = await harness.answer(command, {"prompt": prompt, **kwargs.pop("options", {})}, **kwargs)
    return message


async def refused(harness, prompt: str = PROMPT, command: str = "sdxl", **kwargs) -> str:
    """A generation that must be refused privately, for free, before Pixazo; returns what it said."""
    calls = len(harness.pixazo.requests)
    message = await ask(harness, prompt, command, **kwargs)
    assert is_ephemeral(message), message
    assert not message.get("embeds"), "no result"
    assert len(harness.pixazo.requests) == calls, "a refused request never reaches Pixazo"
    return message["content"]


async def spent(harness, user_id: int = ALICE) -> int:
    jobs = await read_jobs(harness.settings, GUILD_ID, user_id)
    return sum(j["cost"] for j in jobs if j["state"] not in ("failed", "cancelled"))


async def test_each_gate_refuses_in_order_with_its_sentence_and_costs_nothing(harness):
    art = await harness.discord.add_channel(GUILD_ID, name="art")
    bots = await harness.discord.add_channel(GUILD_ID, name="bots")
    # Every gate would refuse Alice's request; each one taken away shows the next, in the order.
    await config(harness, "members block", {"member": ALICE, "reason": "spamming the channel"})
    await config(harness, "roles allow", {"role": ARTIST})
    await config(harness, "channels allow", {"channel": art})
    await config(harness, "channels allow", {"channel": bots})
    await config(harness, "models disable", {"model": "sdxl"})
    await config(harness, "words add", {"term": "lighthouse"})

    said = await refused(harness)
    assert said == "You are blocked from generating here: spamming the channel"
    await config(harness, "members unblock", {"member": ALICE})
    said = await refused(harness)
    assert said.startswith("Generating images here needs one of these roles: ") and f"<@&{ARTIST}>" in said
    said = await refused(harness, roles=[ARTIST])
    assert said == f"The bot can be used in <#{art}> and <#{bots}>."
    said = await refused(harness, roles=[ARTIST], channel_id=art)
    assert said == "/sdxl is turned off in this server."
    said = await refused(harness, roles=[ARTIST], channel_id=art, command="sdxl-lightning")
    assert "`lighthouse`" in said and "this server has blocked" in said
    message = await ask(harness, "a windmill at dusk", "sdxl-lightning", roles=[ARTIST], channel_id=art)
    assert message["embeds"], "every gate passed: the image is made"
    assert await spent(harness) == 1, "only the image made cost anything"
    log = harness.log_text()
    assert f"guild {GUILD_ID}, channel {art}, member {ALICE}" in log, "refusals are logged with where and who"


async def test_a_thread_of_an_allowed_channel_is_allowed_and_an_allowed_category_covers_its_channels(harness):
    art = await harness.discord.add_channel(GUILD_ID, name="art")
    thread = await harness.discord.add_channel(GUILD_ID, name="fox ideas", parent_id=art)
    await config(harness, "channels allow", {"channel": art})
    assert (await ask(harness, channel_id=thread))["embeds"]
    assert "can be used in" in await refused(harness)  # the server's first channel is not allowed


async def test_a_member_without_manage_server_cannot_change_the_configuration(harness):
    said = await config(harness, "words add", {"term": "castle"}, permissions=DEFAULT_MEMBER_PERMISSIONS,
                        validate=False)
    assert is_ephemeral(said) and "Manage Server" in said["content"]
    async with open_view(harness.settings) as store:
        assert await store.guild_rules(GUILD_ID) == [], "nothing was changed"
        assert await store.admin_actions(GUILD_ID) == [], "and nothing recorded"
    assert (await ask(harness, "a castle"))["embeds"]


async def test_words_match_whole_words_and_phrases_after_normalizing_but_not_the_negative_prompt(harness):
    await config(harness, "words add", {"term": "ass"})
    await config(harness, "words add", {"term": "Big Cat"})
    await config(harness, "words add", {"term": "nude"})
    assert (await ask(harness, "a class photo of a bass player"))["embeds"], "class does not match ass"
    assert "`ass`" in await refused(harness, "a wild ASS in the desert")
    assert "`big cat`" in (await refused(harness, "a big   cat, sleeping")).lower()
    assert (await ask(harness, "a bigcat and a big catalog"))["embeds"], "a phrase is whole words in sequence"
    assert "`nude`" in await refused(harness, "a \uff2e\u200b\uff35\uff24\uff25 statue")  # full-width, zero-width joiner
    assert "`nude`" in await refused(harness, "a NuDe statue")
    ok = await ask(harness, "a marble statue", options={"negative_prompt": "nude, big cat"})
    assert ok["embeds"], "the negative prompt names what to keep out: never filtered"
    listing = await config(harness, "words list")
    (embed,) = listing["embeds"]
    assert "`ass`" in embed["description"] and "`big cat`" in embed["description"]


async def test_patterns_are_checked_at_configuration_and_hostile_ones_answer_at_once(harness):
    said = await config(harness, "patterns add", {"pattern": "(unclosed"})
    assert is_ephemeral(said) and "cannot be used" in said["content"] and "missing )" in said["content"]
    said = await config(harness, "patterns add", {"pattern": "a" * 201})
    assert "200" in said["content"]
    said = await config(harness, "patterns add", {"pattern": "a.{20}b!"})
    assert "too complex to check quickly" in said["content"], "linear is not enough: its DFA would blow up"
    said = await config(harness, "patterns add", {"pattern": "(a+)+$"})
    assert "Blocked" in said["content"]
    await config(harness, "patterns add", {"pattern": r"dragon\w*"})
    said = await refused(harness, "two DRAGONS over a lake")
    assert "`dragon\\w*`" in said and "`dragons`" in said, "the pattern and what it matched"
    hostile = "a" * 1500
    began = time.monotonic()
    assert "`(a+)+$`" in await refused(harness, hostile)
    assert time.monotonic() - began < 2, "answered at once"
    ok_prompt = "a" * 1499 + "!"
    began = time.monotonic()
    assert (await ask(harness, ok_prompt))["embeds"]
    assert time.monotonic() - began < 3


async def test_the_built_in_minor_rule_refuses_in_an_age_restricted_channel_with_every_filter_off(harness):
    nsfw = await harness.discord.add_channel(GUILD_ID, name="after-dark", nsfw=True)
    await config(harness, "nsfw", {"filter": "off", "spoiler": "off"})
    said = await refused(harness, "a nude child", channel_id=nsfw)
    assert "minors" in said
    said = await refused(harness, "a nude child")  # and outside, with the filter off
    assert "minors" in said
    assert (await ask(harness, "a child flying a kite", channel_id=nsfw))["embeds"]


async def test_the_mild_filter_and_spoilers(harness):
    nsfw = await harness.discord.add_channel(GUILD_ID, name="after-dark", nsfw=True)
    said = await refused(harness, "a nude figure study")
    assert "age-restricted" in said and "`nude`" in said
    message = await ask(harness, "a nude figure study", channel_id=nsfw)
    (attachment,) = message["attachments"]
    assert attachment["filename"].startswith("SPOILER_"), "results in age-restricted channels are spoilers"
    assert "image" not in message["embeds"][0], "an embed's image cannot be hidden, so it is not used"
    await config(harness, "nsfw", {"spoiler": "off"})
    message = await ask(harness, "a nude figure study", channel_id=nsfw)
    assert not message["attachments"][0]["filename"].startswith("SPOILER_")
    await config(harness, "nsfw", {"filter": "off"})
    assert (await ask(harness, "a nude figure study"))["embeds"], "the server turned the filter off"


async def test_the_servers_negative_prompt_is_added_on_models_that_take_one(harness):
    said = await config(harness, "defaults", {"negative_prompt": "blurry, watermark"})
    assert "blurry, watermark" in said["content"]
    await ask(harness, options={"negative_prompt": "text"})
    await ask(harness, command="sdxl-lightning")
    await ask(harness, command="sd35-large")
    sdxl, lightning, large = harness.pixazo.requests
    assert sdxl.json["negative_prompt"] == "text, blurry, watermark", "the member's own comes first"
    assert lightning.json["negativePrompt"] == "blurry, watermark"
    assert not {"negative_prompt", "negativePrompt"} & set(large.json), "SD 3.5 Large takes none"
    await config(harness, "defaults", {})
    await ask(harness)
    assert "negative_prompt" not in harness.pixazo.requests[-1].json


async def test_reroll_is_gated_for_whoever_presses_it(harness):
    message = await ask(harness, user_id=4002)
    await config(harness, "members block", {"member": ALICE, "reason": "take a break"})
    interaction = await harness.discord.click(message, button_ids(message)["Reroll"], user_id=ALICE)
    callback = await interaction.wait_callback()
    assert callback["type"] == 4 and is_ephemeral(callback["data"])
    assert callback["data"]["content"] == "You are blocked from generating here: take a break"
    await config(harness, "models disable", {"model": "sdxl"})
    interaction = await harness.discord.click(message, button_ids(message)["Reroll"], user_id=4002)
    callback = await interaction.wait_callback()
    assert callback["data"]["content"] == "/sdxl is turned off in this server."
    assert len(harness.pixazo.requests) == 1 and await spent(harness) == 0


async def test_show_lists_the_whole_configuration(harness):
    art = await harness.discord.add_channel(GUILD_ID, name="art")
    await config(harness, "channels allow", {"channel": art})
    await config(harness, "patterns add", {"pattern": "dragon"})
    await config(harness, "models disable", {"model": "sd3"})
    message = await config(harness, "show")
    fields = embed_fields(message)
    assert fields["Channels"] == f"<#{art}>"
    assert fields["Who may generate"] == "everyone"
    assert "Off: /sd3" in fields["Models"]
    assert fields["Blocked patterns (1)"] == "`dragon`"
    assert "filter on" in fields["Explicit terms"]
    assert fields["Server budget"] == "none"


async def test_every_change_is_recorded_and_an_unchanged_one_is_not(harness):
    added = await config(harness, "words add", {"term": "castle"})
    assert added["content"].endswith("This server blocks 1 word or phrase.")
    again = await config(harness, "words add", {"term": "CASTLE"})
    assert "already blocked" in again["content"]
    removed = await config(harness, "words remove", {"term": "castle"})
    assert removed["content"].endswith("This server blocks 0 words and phrases.")
    async with open_view(harness.settings) as store:
        actions = [a["action"] for a in await store.admin_actions(GUILD_ID)]
    assert actions == ["config.word.remove", "config.word.add"]


async def test_a_restart_keeps_every_setting_and_a_change_applies_to_the_next_command(tmp_path, fake_discord,
                                                                                       fake_pixazo, ledger_settings):
    settings = make_settings(tmp_path, fake_discord, fake_pixazo, **ledger_settings)

    async def run(prompt: str, **kwargs) -> dict:
        interaction = await fake_discord.invoke("sdxl", {"prompt": prompt}, **kwargs)
        callback = await interaction.wait_callback()
        return callback["data"] if callback["type"] == 4 else await interaction.wait_followup()

    async def admin(sub: str, options: dict) -> None:
        interaction = await fake_discord.invoke("config", options, subcommand=sub, user_id=9000, permissions=ADMIN)
        await interaction.wait_followup()

    async with started_bot(settings, fake_discord):
        assert (await run("a castle"))["embeds"]
        await admin("words add", {"term": "castle"})
        assert "`castle`" in (await run("a castle"))["content"], "applied on the next command, no restart"
        await admin("members block", {"member": 4002, "reason": "spam"})
        await admin("nsfw", {"filter": "off"})
        await admin("defaults", {"negative_prompt": "blurry"})
    before = fake_discord.identify_payload
    async with started_bot(settings, fake_discord):  # a new bot process, the same database
        await eventually(lambda: fake_discord.identify_payload is not before)
        assert "`castle`" in (await run("a castle"))["content"]
        assert "spam" in (await run("a fox", user_id=4002))["content"]
        assert (await run("a nude statue"))["embeds"], "the filter stays off"
        assert fake_pixazo.requests[-1].json["negative_prompt"] == "blurry"
    async with open_view(settings) as store:
        snap = await store.snapshot(Member(GUILD_ID, ALICE), default_allowance=20)
    assert snap.used == 4  # two images of 2 credits: refusals cost nothing


@pytest.mark.parametrize("bot_settings", [{"image_work_timeout_seconds": 0.001}])
async def test_a_pattern_is_admitted_however_busy_the_image_threads_are(harness):
    # Admission reads the pattern, not a clock: image threads that could answer nothing in time change nothing.
    said = await config(harness, "patterns add", {"pattern": "lim07x+q"})
    assert is_ephemeral(said) and said["content"].startswith("Blocked `lim07x+q`.")
    async with open_view(harness.settings) as store:
        assert [r["value"] for r in await store.guild_rules(GUILD_ID)] == ["lim07x+q"]


async def test_a_blocked_pattern_that_ends_with_a_full_stop_gets_no_second_one(harness):
    said = await config(harness, "patterns add", {"pattern": "dark."})
    assert said["content"].startswith("Blocked `dark.` ") and "`dark.`." not in said["content"], said["content"]
    said = await config(harness, "patterns remove", {"pattern": "dark."})
    assert said["content"].startswith("Unblocked `dark.` ") and "`dark.`." not in said["content"], said["content"]


# -- writing tricks (look-alike letters, leetspeak, spaced letters) through the real discord.py -------

async def test_a_bypass_prompt_is_refused_with_the_usual_message_and_costs_nothing(harness):
    nsfw = await harness.discord.add_channel(GUILD_ID, name="after-dark", nsfw=True)
    await config(harness, "nsfw", {"filter": "off"})
    said = await refused(harness, "a ch1ld, n u d e", channel_id=nsfw)
    assert said == "This bot never makes sexual images involving minors (`child` with `nude`)."
    said = await refused(harness, "twelve-year-old, n\u0430ked", channel_id=nsfw)  # a Cyrillic а
    assert said == "This bot never makes sexual images involving minors (`twelve year old` with `naked`)."
    await config(harness, "nsfw", {"filter": "on"})
    said = await refused(harness, "a n\u0443de figure study")  # a Cyrillic у
    assert said == "Explicit terms like `nude` can only be used in age-restricted channels."
    assert await spent(harness) == 0
    assert (await ask(harness, "a kid goat on a farm, Japanese text ナイス"))["embeds"], "the harmless pass"


async def test_strict_words_catch_leetspeak_and_spaced_letters_only_when_on(harness):
    await config(harness, "words add", {"term": "castle"})
    said = await refused(harness, "a c\u0430stle at dawn")  # look-alikes: always
    assert said == "Your prompt uses `castle`, which this server has blocked."
    assert (await ask(harness, "a c4stl3 at dawn"))["embeds"], "leetspeak passes a lenient server"
    shown = embed_fields(await config(harness, "show"))
    assert "only in strict mode" in shown["Matching"]
    said = await config(harness, "words strict", {"state": "on"})
    assert said["content"].startswith("Strict: blocked words and patterns also match leetspeak")
    assert await refused(harness, "a c4stl3 at dawn") == "Your prompt uses `castle`, which this server has blocked."
    assert await refused(harness, "a c a s t l e at dawn") == "Your prompt uses `castle`, which this server has blocked."
    assert embed_fields(await config(harness, "show"))["Matching"].startswith("Strict")
    await config(harness, "words strict", {"state": "off"})
    assert (await ask(harness, "a c a s t l e at dawn"))["embeds"]
