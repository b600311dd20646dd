"""The Pixazo client against the fake Pixazo over a real socket: retry bounds and result checks."""

from __future__ import annotations

import time

import aiohttp
import pytest
from pydantic import SecretStr

from bot.catalog import MODELS
from bot.core.redact import Redactor
from bot.pixazo import PixazoClient, RetryPolicy
from bot.pixazo.client import MAX_REDIRECTS
from bot.pixazo.errors import (
    PixazoBadResponse,
    PixazoBusy,
    PixazoGenerationFailed,
    PixazoRejected,
    PixazoServerError,
)
from bot.services.pixazo_words import sentence
from tests.conftest import PIXAZO_KEY, TOKEN
from tests.fakes.pixazo import Behaviour, FakePixazo, tls_client_context

BODY = {"prompt": "a fox", "num_steps": 4, "seed": 1}


@pytest.fixture
async def session():
    async with aiohttp.ClientSession() as s:
        yield s
        # Each client owns a session for result images; close those the test made.
        for made in _made:
            await made.close()
        _made.clear()


_made: list[PixazoClient] = []


def client(session, fake, **kwargs) -> PixazoClient:
    options = {"timeout": 2.0, "max_concurrency": 4, "max_image_bytes": 2**20, "require_https_results": False,
               "allow_private_result_hosts": True, "redactor": Redactor([PIXAZO_KEY, TOKEN]),
               "retry": RetryPolicy(attempts=3, base_delay=0.01, total_seconds=5)}
    options.update(kwargs)
    made = PixazoClient(session, base_url=fake.base_url, api_key=SecretStr(PIXAZO_KEY), **options)
    _made.append(made)
    return made


async def test_result_urls_must_be_https_by_default(session, fake_pixazo):
    with pytest.raises(PixazoBadResponse) as exc:
        await client(session, fake_pixazo, require_https_results=True).generate(MODELS["sdxl"], BODY, use_stream=False)
    assert "will not open" in sentence(exc.value)
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
    assert "guidance_scale" in sentence(exc.value), "the API's own reason is passed on"
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


# -- outside text: scrubbed of both secrets, capped, shown literally ------------------------------------

def assert_no_secret(*texts: str) -> None:
    for text in texts:
        assert PIXAZO_KEY not in text and TOKEN not in text, text


async def test_a_400_that_echoes_the_key_is_scrubbed_everywhere(session, fake_pixazo):
    fake_pixazo.default = Behaviour.ECHO_KEY
    with pytest.raises(PixazoRejected) as exc:
        await client(session, fake_pixazo).generate(MODELS["sdxl"], BODY, use_stream=False)
    assert_no_secret(sentence(exc.value), exc.value.detail, str(exc.value))
    assert "Ocp-Apim-Subscription-Key=[redacted]" in sentence(exc.value)
    # One code span: Discord renders no bold, no link and no mention inside it.
    said = sentence(exc.value).split(": ", 1)[1]
    assert said.startswith("`Request rejected") and said.count("`") == 2, said


async def test_the_discord_token_is_scrubbed_from_pixazo_text_too(session, fake_pixazo):
    fake_pixazo.default = Behaviour.BAD_REQUEST
    fake_pixazo.bad_request_message = f"weird: {TOKEN} ` closing the span {PIXAZO_KEY[:5]}\u200b{PIXAZO_KEY[5:]}"
    with pytest.raises(PixazoRejected) as exc:
        await client(session, fake_pixazo).generate(MODELS["sdxl"], BODY, use_stream=False)
    assert_no_secret(sentence(exc.value), exc.value.detail)
    assert sentence(exc.value).count("`") == 2, "a backtick in the reason cannot end the code span"


async def test_a_secret_at_the_edge_of_the_read_limit_leaves_no_prefix(session, fake_pixazo):
    # 16 KiB are read of an error body; the key straddles that edge and whitespace is collapsed.
    fake_pixazo.default = Behaviour.BAD_REQUEST
    # '{"error": "' is 11 bytes, so the first 9 characters of the key fall inside the part that is read.
    fake_pixazo.bad_request_message = " " * (16 * 1024 - 20) + PIXAZO_KEY
    with pytest.raises(PixazoRejected) as exc:
        await client(session, fake_pixazo).generate(MODELS["sdxl"], BODY, use_stream=False)
    for text in (sentence(exc.value), exc.value.detail):
        assert PIXAZO_KEY[:4] not in text, text


async def test_a_2500_character_status_is_capped_and_scrubbed(session, fake_pixazo):
    fake_pixazo.default = Behaviour.LONG_STATUS
    body = {"prompt": "a fox", "aspect_ratio": "1:1", "cfg": 4.5, "steps": 40, "output_format": "png",
            "output_quality": 90, "prompt_strength": 0.85}
    with pytest.raises(PixazoGenerationFailed) as exc:
        await client(session, fake_pixazo).generate(MODELS["sd35-large"], body, use_stream=False)
    assert_no_secret(sentence(exc.value), exc.value.detail)
    assert len(sentence(exc.value)) < 200, sentence(exc.value)
    assert len(exc.value.detail) <= 600


async def test_a_result_url_carrying_a_secret_is_fetched_but_never_kept(session, fake_pixazo):
    # The URL is stored with the job and may be posted as a link; one holding the key can be neither.
    fake_pixazo.result_url_suffix = f"?subscription-key={PIXAZO_KEY}"
    image = await client(session, fake_pixazo).generate(MODELS["sdxl"], BODY, use_stream=False)
    (call,) = fake_pixazo.requests
    assert image.data == fake_pixazo.images[call.image_url] and image.url is None
    fake_pixazo.result_url_suffix = "?sig=public"
    assert (await client(session, fake_pixazo).generate(MODELS["sdxl"], BODY, use_stream=False)).url.endswith("?sig=public")


# -- result URLs: every hop https when required, never a private address unless allowed -------------------

@pytest.fixture
async def tls_pixazo():
    async with FakePixazo(api_key=PIXAZO_KEY, tls=True) as fake:
        yield fake


async def test_an_https_result_that_redirects_to_http_is_refused(session, tls_pixazo):
    tls_pixazo.default = Behaviour.REDIRECT_TO_HTTP
    pixazo = client(session, tls_pixazo, require_https_results=True, result_ssl=tls_client_context())
    with pytest.raises(PixazoBadResponse) as exc:
        await pixazo.generate(MODELS["sdxl"], BODY, use_stream=False)
    assert "will not open" in sentence(exc.value)
    assert len(tls_pixazo.redirects) == 1 and tls_pixazo.redirects[0].startswith("https://")
    assert tls_pixazo.image_fetches == [], "the http hop was never fetched"


async def test_the_same_redirect_is_followed_when_http_is_allowed(session, tls_pixazo):
    tls_pixazo.default = Behaviour.REDIRECT_TO_HTTP
    pixazo = client(session, tls_pixazo, require_https_results=False, result_ssl=tls_client_context())
    image = await pixazo.generate(MODELS["sdxl"], BODY, use_stream=False)
    (call,) = tls_pixazo.requests
    assert image.data == tls_pixazo.images[call.image_url]


async def test_redirects_are_followed_up_to_a_bound(session, fake_pixazo):
    fake_pixazo.default = Behaviour.REDIRECT
    fake_pixazo.redirect_hops = MAX_REDIRECTS
    image = await client(session, fake_pixazo).generate(MODELS["sdxl"], BODY, use_stream=False)
    assert len(fake_pixazo.redirects) == MAX_REDIRECTS and image.data
    fake_pixazo.redirects.clear()
    fake_pixazo.redirect_hops = MAX_REDIRECTS + 1
    with pytest.raises(PixazoBadResponse) as exc:
        await client(session, fake_pixazo).generate(MODELS["sdxl"], BODY, use_stream=False)
    assert "too many redirects" in sentence(exc.value)
    assert len(fake_pixazo.redirects) == MAX_REDIRECTS + 1


async def test_a_result_on_a_private_ip_is_refused_unless_allowed(session, fake_pixazo):
    with pytest.raises(PixazoBadResponse) as exc:
        await client(session, fake_pixazo, allow_private_result_hosts=False).generate(
            MODELS["sdxl"], BODY, use_stream=False)
    assert "private network" in sentence(exc.value)
    assert fake_pixazo.image_fetches == []


@pytest.mark.parametrize("allowed", [False, True])
async def test_a_host_name_resolving_to_loopback_is_refused_at_connect(session, fake_pixazo, allowed):
    # "localhost" is not an IP literal: only the result session's resolver can stop it.
    fake_pixazo.default = Behaviour.LOCALHOST_URL
    pixazo = client(session, fake_pixazo, allow_private_result_hosts=allowed)
    if allowed:
        assert (await pixazo.generate(MODELS["sdxl"], BODY, use_stream=False)).data
        assert len(fake_pixazo.image_fetches) == 1
        return
    with pytest.raises(PixazoBadResponse) as exc:
        await pixazo.generate(MODELS["sdxl"], BODY, use_stream=False)
    assert "private network" in sentence(exc.value) and "localhost" in exc.value.detail
    assert fake_pixazo.image_fetches == []


# -- result images must decode to the last pixel ------------------------------------------------------------

@pytest.mark.parametrize("use_stream", [False, True], ids=["url", "raw-stream"])
async def test_a_truncated_png_is_a_bad_response(session, fake_pixazo, use_stream):
    fake_pixazo.default = Behaviour.TRUNCATED
    with pytest.raises(PixazoBadResponse) as exc:
        await client(session, fake_pixazo).generate(MODELS["sdxl-lightning"], BODY, use_stream=use_stream)
    assert "damaged or incomplete" in sentence(exc.value)
    assert "truncated" in exc.value.detail
    assert len(fake_pixazo.requests) == 1, "a damaged image is not fetched again and again"
