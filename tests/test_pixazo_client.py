"""The Pixazo client against the fake Pixazo over a real socket: retry bounds and result checks."""

from __future__ import annotations

import time

import aiohttp
import pytest
from pydantic import SecretStr

from bot.catalog import MODELS
from bot.pixazo import PixazoClient, RetryPolicy
from bot.pixazo.errors import PixazoBadResponse, PixazoBusy, PixazoRejected, PixazoServerError
from tests.conftest import PIXAZO_KEY
from tests.fakes.pixazo_server import Behaviour

BODY = {"prompt": "a fox", "num_steps": 4, "seed": 1}


@pytest.fixture
async def session():
    async with aiohttp.ClientSession() as s:
        yield s


def client(session, fake, **kwargs) -> PixazoClient:
    options = {"timeout": 2.0, "max_concurrency": 4, "max_image_bytes": 2**20, "require_https_results": False,
               "retry": RetryPolicy(attempts=3, base_delay=0.01, total_seconds=5)}
    options.update(kwargs)
    return PixazoClient(session, base_url=fake.base_url, api_key=SecretStr(PIXAZO_KEY), **options)


async def test_result_urls_must_be_https_by_default(session, fake_pixazo):
    with pytest.raises(PixazoBadResponse) as exc:
        await client(session, fake_pixazo, require_https_results=True).generate(MODELS["sdxl"], BODY, use_stream=False)
    assert "will not open" in exc.value.user_message
    assert fake_pixazo.image_fetches == [], "the http URL was never fetched"


async def test_retry_after_beyond_the_budget_gives_up_at_once(session, fake_pixazo):
    fake_pixazo.push(Behaviour.RATE_LIMITED, retry_after=30)
    started = time.monotonic()
    with pytest.raises(PixazoBusy):
        await client(session, fake_pixazo).generate(MODELS["sdxl"], BODY, use_stream=False)
    assert time.monotonic() - started < 1
    assert len(fake_pixazo.requests) == 1


async def test_attempts_are_bounded(session, fake_pixazo):
    fake_pixazo.default = Behaviour.SERVER_ERROR
    with pytest.raises(PixazoServerError):
        await client(session, fake_pixazo, retry=RetryPolicy(attempts=4, base_delay=0.01)).generate(
            MODELS["sdxl"], BODY, use_stream=False)
    assert len(fake_pixazo.requests) == 4


async def test_a_wrong_field_is_a_400_that_is_not_retried(session, fake_pixazo):
    with pytest.raises(PixazoRejected) as exc:
        await client(session, fake_pixazo).generate(MODELS["sdxl-lightning"], {"prompt": "x", "guidance_scale": 5},
                                                    use_stream=False)
    assert "guidance_scale" in exc.value.user_message, "the API's own reason is passed on"
    assert len(fake_pixazo.requests) == 1


async def test_concurrency_is_capped(session, fake_pixazo):
    import asyncio

    fake_pixazo.latency = 0.2
    pixazo = client(session, fake_pixazo, max_concurrency=2)
    started = time.monotonic()
    await asyncio.gather(*(pixazo.generate(MODELS["sdxl"], BODY, use_stream=False) for _ in range(4)))
    # Four calls two at a time take two rounds of latency.
    assert time.monotonic() - started >= 0.4
    arrivals = sorted(r.at for r in fake_pixazo.requests)
    assert arrivals[2] - arrivals[0] >= 0.19
