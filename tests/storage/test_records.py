"""The storage boundary (bot/storage/records.py): a row becomes a typed record once, the same from both
backends, and a column that cannot be read is empty, never a crash of the button that asked for it."""

from __future__ import annotations

import json

from bot.domain import JobState
from bot.domain.delivery import Delivery
from bot.domain.params import Params
from bot.storage.records import (
    appeal_record,
    audit_row,
    encode_delivery,
    guild_rule,
    job_record,
    review_record,
)

DELIVERY = Delivery(application_id=7, prompt="a red fox", shown=(("width", 1024), ("seed", 5)), role_ids=(3,),
                    requester="alice", note="Reroll of job #1", review=900)


def row(**columns):
    return {"id": 1, "model": "inpaint", "state": "queued", "params": '{"prompt": "a fox", "imageUrl": "https://i",'
            ' "maskUrl": "https://m", "num_steps": 20}', "inputs": '{"image": {"format": "png"}}',
            "delivery": encode_delivery(DELIVERY), **columns}


def test_a_job_row_becomes_a_typed_record():
    job = job_record(row())
    assert job["state"] is JobState.QUEUED
    assert job["delivery"] == DELIVERY and job["delivery"].shown == (("width", 1024), ("seed", 5))
    params = job["params"]
    assert isinstance(params, Params) and params["num_steps"] == 20 and params.option("steps") == 20
    assert (params.option("prompt"), params.image_url, params.mask_url) == ("a fox", "https://i", "https://m")
    assert job["inputs"] == {"image": {"format": "png"}}


def test_what_cannot_be_read_is_empty_not_a_crash():
    job = job_record(row(params="{broken", inputs="[1, 2]", delivery='{"application_id": "not a number"}'))
    assert job["params"] == {} and job["inputs"] == {} and job["delivery"] == Delivery()
    assert job_record(row(delivery="not json at all"))["delivery"] == Delivery()
    assert audit_row({"id": 1, "detail": "{oops"})["detail"] == {}
    assert appeal_record({"id": 1, "request": None, "rule": "[]"}) == {"id": 1, "request": {}, "rule": {}}
    assert guild_rule({"kind": "word", "detail": "{oops"})["detail"] is None


def test_a_forgotten_job_reads_as_forgotten():
    job = job_record(row(params="{}", inputs=None, delivery=None))
    assert (job["params"], job["inputs"], job["delivery"]) == ({}, None, None)


def test_json_columns_arrive_parsed():
    assert review_record({"id": 1, "detail": json.dumps({"hidden": True})})["detail"] == {"hidden": True}
    assert review_record({"id": 1, "detail": None})["detail"] is None
    assert guild_rule({"kind": "setting", "detail": "0.4"})["detail"] == 0.4
