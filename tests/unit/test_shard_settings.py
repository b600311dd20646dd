"""SHARD_COUNT and SHARD_IDS (part 9): the forms an operator writes, and one line for each mistake."""

from __future__ import annotations

import pytest

from bot.core.settings import SettingsError, load_settings

SECRETS = {"discord_token": "t", "pixazo_api_key": "k"}


def settings(**values: object):
    return load_settings(_env_file=None, **SECRETS, **values)


@pytest.mark.parametrize(("ids", "expected"), [
    ("0-3", (0, 1, 2, 3)), ("4,5,6,7", (4, 5, 6, 7)), (" 0-1, 6 ", (0, 1, 6)), ("7", (7,)),
])
def test_shard_ids_are_ranges_lists_or_both(ids, expected):
    assert settings(shard_count=8, shard_ids=ids).shard_ids == expected


def test_unset_is_discord_pys_automatic_sharding():
    s = settings()
    assert (s.shard_count, s.shard_ids) == (None, None)
    assert settings(shard_count=4, shard_ids="").shard_ids is None, "blank: all of SHARD_COUNT's shards"


@pytest.mark.parametrize(("values", "line"), [
    ({"shard_ids": "0-1"}, "setting SHARD_IDS is invalid: needs SHARD_COUNT"),
    ({"shard_count": 2, "shard_ids": "0-2"}, "setting SHARD_IDS is invalid: every shard id must be from 0 to 1"),
    ({"shard_count": 4, "shard_ids": "1,1"}, "setting SHARD_IDS is invalid: lists a shard twice"),
    ({"shard_count": 4, "shard_ids": "3-1"}, "setting SHARD_IDS is invalid: the range 3-1 runs backwards"),
    ({"shard_count": 4, "shard_ids": "zero"}, 'setting SHARD_IDS is invalid: must be shard ids such as "0-3"'),
    ({"shard_count": 0}, "setting SHARD_COUNT is invalid"),
])
def test_a_wrong_shard_setting_is_one_line(values, line):
    with pytest.raises(SettingsError) as refused:
        settings(**values)
    assert len(refused.value.lines) == 1 and refused.value.lines[0].startswith(line), refused.value.lines
