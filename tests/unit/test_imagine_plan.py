"""/imagine's request resolved (bot/services/imagine.py): which values come from the member's defaults,
the server's settings and styles, or the options given; seeds across a batch; each wrong value's sentence."""

from __future__ import annotations

import random
from types import MappingProxyType

import pytest

from bot.core.errors import InvalidInput
from bot.moderation.config import GuildConfig
from bot.services.imagine import Asked, checked_default, plan

CONFIG = GuildConfig(guild_id=1)


def imagine(defaults: dict | None = None, config: GuildConfig = CONFIG, max_count: int = 4, **given):
    options = {"prompt": given.pop("prompt", "a fox"), "negative_prompt": given.pop("negative_prompt", None),
               "seed": given.pop("seed", None)}
    return plan(Asked(options, imagine=True, **given), defaults or {}, config, max_count=max_count,
                rng=random.Random(1))


def test_an_option_given_wins_over_the_member_s_default_which_wins_over_the_server_s():
    assert imagine().model.key == "sdxl"
    server = GuildConfig(guild_id=1, values=MappingProxyType({"imagine_model": "sd3"}))
    assert imagine(config=server).model.key == "sd3"
    mine = imagine({"model": "sdxl-lightning", "count": 3}, config=server)
    assert (mine.model.key, len(mine.prepared), mine.from_defaults) == ("sdxl-lightning", 3, ("model", "count"))
    given = imagine({"model": "sdxl-lightning", "count": 3}, config=server, model="sd35-large", count=1)
    assert (given.model.key, len(given.prepared), given.from_defaults) == ("sd35-large", 1, ())


def test_a_turned_off_default_model_falls_back_to_the_server_s():
    off = GuildConfig(guild_id=1, models_off=frozenset({"sd3"}))
    assert imagine({"model": "sd3"}, config=off).model.key == "sdxl"


def test_seeds_follow_a_given_seed_and_are_random_otherwise():
    given = imagine(count=4, seed=2**32 - 2)
    assert [dict(p.shown)["seed"] for p in given.prepared] == [2**32 - 2, 2**32 - 1, 0, 1]
    drawn = [dict(p.shown)["seed"] for p in imagine(count=4).prepared]
    assert len(set(drawn)) == 4


def test_the_aspect_ratio_is_each_model_s_own():
    payload = imagine(aspect_ratio="16:9").prepared[0].payload
    assert (payload["width"], payload["height"]) == (1368, 768)
    assert imagine(model="sd3", aspect_ratio="16:9").prepared[0].payload["aspect_ratio"] == "16:9"
    assert imagine({"aspect_ratio": "9:16"}).prepared[0].payload["height"] == 1368


def test_a_default_count_above_the_bot_s_limit_is_lowered_and_a_given_one_refused():
    assert len(imagine({"count": 4}, max_count=2).prepared) == 2
    with pytest.raises(InvalidInput, match="from 1 to 2 here"):
        imagine(count=3, max_count=2)


@pytest.mark.parametrize(("given", "sentence"), [
    ({"model": "sd35-large", "negative_prompt": "blur"}, "takes no `negative_prompt`"),
    ({"model": "sd3", "seed": 4}, "takes no `seed`"),
    ({"model": "inpaint"}, "`model` must be one of"),
    ({"style": "nope"}, "no style named `nope`"),
    ({"count": 0}, "`count` must be a whole number from 1 to 4"),
    ({"aspect_ratio": "7:3"}, "`aspect_ratio` must be one of"),
])
def test_each_wrong_value_gets_its_sentence(given, sentence):
    with pytest.raises(InvalidInput, match=sentence):
        imagine(**given)


def test_a_style_goes_around_the_prompt_and_a_default_style_no_longer_offered_is_skipped():
    styled = imagine(style="Watercolor")
    assert styled.style == "watercolor" and styled.prepared[0].prompt.startswith("a fox, watercolor painting")
    gone = GuildConfig(guild_id=1, styles=MappingProxyType({}))
    assert imagine({"style": "watercolor"}, config=gone).prepared[0].prompt == "a fox"
    with pytest.raises(InvalidInput, match="prompt is empty"):
        imagine(prompt="   ", style="photo")


def test_settings_values_are_checked():
    assert checked_default("negative_prompt", "none", CONFIG) is None
    assert checked_default("style", "Photo", CONFIG) == "photo"
    with pytest.raises(InvalidInput, match="does not offer results shown only to you"):
        checked_default("private", True, CONFIG)
    with pytest.raises(InvalidInput):
        checked_default("model", "inpaint", CONFIG)
