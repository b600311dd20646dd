"""Self-test of the fake Pixazo server, with a plain aiohttp client (no bot code involved).

If these pass, a bot test that fails against the fake fails because of the bot.
"""

from __future__ import annotations

import asyncio
import io
import json
import socket
import time

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web
from PIL import Image

from tests.fakes import images
from tests.fakes.pixazo import Behaviour, FakePixazo
from tests.fakes.pixazo_examples import (
    DOG_SIZE,
    EXAMPLES,
    EXPECTED,
    INPAINT,
    INPAINT_STREAM,
    KEY,
    LIGHTNING,
    LIGHTNING_STREAM,
    MINIMAL,
    SD3,
    SD35,
    SDXL,
    get,
    post,
    result_url,
    with_local_inputs,
)

pytestmark = pytest.mark.asyncio

# ---- Fixtures --------------------------------------------------------------------------------------


@pytest_asyncio.fixture
async def fake():
    server = FakePixazo()
    await server.start()
    yield server
    await server.close()


@pytest_asyncio.fixture
async def http():
    async with aiohttp.ClientSession() as session:
        yield session


@pytest_asyncio.fixture
async def assets():
    """A tiny image host, standing in for wherever the bot puts inpainting inputs."""
    files = {
        "/dog.png": (images.make_png(*DOG_SIZE, color=(150, 110, 60)), "image/png"),
        "/dog-mask.png": (images.make_mask(*DOG_SIZE, kind="half"), "image/png"),
        "/page.html": (b"<html>hello</html>", "text/html"),
    }
    seen: list[str] = []

    async def serve(request: web.Request) -> web.Response:
        seen.append(request.path)
        if request.path not in files:
            return web.Response(status=404, text="no such file")
        body, content_type = files[request.path]
        return web.Response(body=body, content_type=content_type)

    app = web.Application()
    app.router.add_get("/{name}", serve)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    base = f"http://{host}:{port}"
    yield type("Assets", (), {"base": base, "files": files, "seen": seen})
    await runner.cleanup()


# ---- Documented examples ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", list(EXAMPLES))
async def test_doc_example_gets_documented_json_and_a_fetchable_image(fake, http, assets, path):
    fake.stream_raw_bytes = False  # the JSON form of the stream endpoints, as the document shows
    status, headers, raw = await post(http, fake, path, with_local_inputs(EXAMPLES[path], assets))
    assert status == 200, raw
    assert headers["Content-Type"].startswith("application/json")
    payload = json.loads(raw)
    keys, fmt, size = EXPECTED[path]
    assert set(payload) == keys
    if path == SD35:
        assert payload["status"] == "succeeded" and payload["id"]
    url = result_url(path, payload)
    assert url.startswith(fake.base_url + "/images/")

    status, headers, data = await get(http, url)
    assert status == 200
    assert data == fake.images[url]
    assert url in fake.image_fetches
    assert images.image_format(data) == fmt
    assert images.image_size(data) == size
    assert headers["Content-Type"] == f"image/{fmt.lower()}"


@pytest.mark.parametrize("path", [LIGHTNING_STREAM, INPAINT_STREAM])
async def test_stream_endpoints_answer_raw_png_by_default(fake, http, assets, path):
    status, headers, data = await post(http, fake, path, with_local_inputs(EXAMPLES[path], assets))
    assert status == 200
    assert headers["Content-Type"] == "image/png"
    assert images.image_size(data) == (64, 64)
    assert data == fake.images[fake.requests[-1].image_url]


async def test_inpainting_stream_minimal_example_from_the_document(fake, http):
    # The document's request code for getImageStream sends only the prompt.
    status, _, data = await post(http, fake, INPAINT_STREAM, {"prompt": "Change to a lion"})
    assert status == 200 and images.image_size(data) == (64, 64)
    assert fake.inpaint_fetches == []


async def test_same_prompt_same_colour_different_prompt_different_colour(fake, http):
    def colour(data: bytes):
        return Image.open(io.BytesIO(data)).convert("RGB").getpixel((0, 0))

    _, _, a = await post(http, fake, LIGHTNING_STREAM, {"prompt": "a red fox"})
    _, _, b = await post(http, fake, LIGHTNING_STREAM, {"prompt": "a red fox"})
    _, _, c = await post(http, fake, LIGHTNING_STREAM, {"prompt": "a blue whale"})
    assert colour(a) == colour(b) != colour(c)


async def test_requested_size_is_scaled_by_16_keeping_aspect(fake, http):
    body = {"prompt": "wide", "width": 2048, "height": 512}
    _, _, data = await post(http, fake, LIGHTNING_STREAM, body)
    assert images.image_size(data) == (128, 32)


async def test_sd3_defaults_to_webp_as_documented(fake, http):
    status, _, raw = await post(http, fake, SD3, {"prompt": "a cat"})
    assert status == 200
    assert images.image_format(fake.images[json.loads(raw)["output"]]) == "WEBP"


# ---- Field names, types, ranges ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "path,field,value",
    [
        (LIGHTNING, "guidance_scale", 5),
        (LIGHTNING, "negative_prompt", "x"),
        (LIGHTNING_STREAM, "guidance_scale", 5),
        (LIGHTNING_STREAM, "negative_prompt", "x"),
        (SDXL, "negativePrompt", "x"),
        (SDXL, "guidance", 5),
        (SD35, "negativePrompt", "x"),
        (SD35, "seed", 1),
        (SD3, "negative_prompt", "x"),
        (SD3, "num_steps", 20),
        (INPAINT, "guidance_scale", 5),
        (INPAINT, "mask_url", "http://127.0.0.1/x.png"),
    ],
)
async def test_wrong_field_name_is_400_naming_it(fake, http, path, field, value):
    status, _, raw = await post(http, fake, path, MINIMAL[path] | {field: value})
    assert status == 400
    assert f"'{field}'" in json.loads(raw)["error"]
    assert fake.requests[-1].status == 400


def _without(path, name):
    return {k: v for k, v in MINIMAL[path].items() if k != name}


@pytest.mark.parametrize(
    "path,body,field",
    [
        (SD3, {"negativePrompt": "x"}, "prompt"),
        (SD3, {"prompt": ""}, "prompt"),
        (SD3, {"prompt": "   "}, "prompt"),
        (SD3, {"prompt": 5}, "prompt"),
        (SD3, {"prompt": "a", "steps": 29}, "steps"),
        (SD3, {"prompt": "a", "steps": 0}, "steps"),
        (SD3, {"prompt": "a", "steps": True}, "steps"),
        (SD3, {"prompt": "a", "steps": 20.0}, "steps"),
        (SD3, {"prompt": "a", "cfg": 20.5}, "cfg"),
        (SD3, {"prompt": "a", "cfg": "4"}, "cfg"),
        (SD3, {"prompt": "a", "aspect_ratio": "7:3"}, "aspect_ratio"),
        (SD3, {"prompt": "a", "output_format": "jpeg"}, "output_format"),  # SD3 lists no "jpeg"
        (SD3, {"prompt": "a", "output_quality": 101}, "output_quality"),
        (SD3, {"prompt": "a", "prompt_strength": 1.5}, "prompt_strength"),
        (SD3, {"prompt": "a", "negativePrompt": None}, "negativePrompt"),
        (SD35, _without(SD35, "cfg"), "cfg"),
        (SD35, MINIMAL[SD35] | {"steps": 19}, "steps"),
        (SD35, MINIMAL[SD35] | {"cfg": 0.5}, "cfg"),
        (SD35, MINIMAL[SD35] | {"output_quality": 0}, "output_quality"),
        (SD35, MINIMAL[SD35] | {"aspect_ratio": "square"}, "aspect_ratio"),
        (SD35, MINIMAL[SD35] | {"output_format": "gif"}, "output_format"),
        (SDXL, {"prompt": "a", "width": 255}, "width"),
        (SDXL, {"prompt": "a", "height": 4096}, "height"),
        (SDXL, {"prompt": "a", "num_steps": 21}, "num_steps"),
        (SDXL, {"prompt": "a", "seed": -1}, "seed"),
        (SDXL, {"prompt": "a", "guidance_scale": False}, "guidance_scale"),
        (LIGHTNING, {"prompt": "a", "guidance": -1}, "guidance"),
        (INPAINT, {"prompt": "a", "negativePrompt": "x", "negative_prompt": "y"}, "negative_prompt"),
        (INPAINT, {"prompt": "a", "imageUrl": "dog.png"}, "imageUrl"),
        (INPAINT, {"prompt": "a", "maskUrl": "ftp://127.0.0.1/m.png"}, "maskUrl"),
        (INPAINT_STREAM, {"prompt": "a", "width": 0}, "width"),
    ],
)
async def test_bad_value_is_400_naming_the_field(fake, http, path, body, field):
    status, _, raw = await post(http, fake, path, body)
    assert status == 400, raw
    assert f"'{field}'" in json.loads(raw)["error"]


@pytest.mark.parametrize(
    "path,body",
    [
        (SD35, MINIMAL[SD35] | {"steps": 40.5, "cfg": 5, "output_quality": 80.5, "output_format": "jpeg"}),
        (SDXL, {"prompt": "a", "guidance_scale": 7.5}),
        (INPAINT, {"prompt": "a", "negativePrompt": "x", "guidance": 7.5}),
        (SD3, {"prompt": "a", "cfg": 4, "negativePrompt": ""}),
    ],
)
async def test_numbers_take_ints_and_floats(fake, http, path, body):
    status, _, raw = await post(http, fake, path, body)
    assert status == 200, raw


@pytest.mark.parametrize(
    "data,content_type,needle",
    [
        (b"not json", "application/json", "not valid JSON"),
        (b"", "application/json", "not valid JSON"),
        (b'{"prompt": NaN}', "application/json", "not valid JSON"),
        (b'["a cat"]', "application/json", "JSON object"),
        (b'"a cat"', "application/json", "JSON object"),
        (b'{"prompt": "a cat"}', "text/plain", "Content-Type"),
    ],
)
async def test_body_that_is_not_a_json_object_is_400(fake, http, data, content_type, needle):
    headers = {"Ocp-Apim-Subscription-Key": KEY, "Content-Type": content_type}
    async with http.post(fake.url(SD3), data=data, headers=headers) as resp:
        assert resp.status == 400
        assert needle in (await resp.json())["error"]
    assert fake.requests[-1].raw == data


# ---- Gateway: key, paths, methods -------------------------------------------------------------------


async def test_missing_key_is_401_and_wrong_key_is_403(fake, http):
    status, _, raw = await post(http, fake, SD3, MINIMAL[SD3], key=None)
    assert status == 401
    assert json.loads(raw) == {"statusCode": 401, "message": json.loads(raw)["message"]}
    assert "missing subscription key" in json.loads(raw)["message"]
    status, _, raw = await post(http, fake, SD3, MINIMAL[SD3], key="wrong")
    assert status == 403 and json.loads(raw)["statusCode"] == 403
    assert [c.status for c in fake.requests] == [401, 403]


async def test_auth_comes_before_validation(fake, http):
    status, _, _ = await post(http, fake, SD3, b"not json", key=None)
    assert status == 401


async def test_unknown_path_is_404_and_get_is_405(fake, http):
    status, _, _ = await post(http, fake, "/sd4/v1/getData", MINIMAL[SD3])
    assert status == 404
    async with http.get(fake.url(SD3), headers={"Ocp-Apim-Subscription-Key": KEY}) as resp:
        assert resp.status == 405
        assert resp.headers["Allow"] == "POST"


# ---- Recording ----------------------------------------------------------------------------------------


async def test_records_exact_body_headers_time_and_status(fake, http):
    before = asyncio.get_running_loop().time()
    body = EXAMPLES[SD3]
    await post(http, fake, SD3, body)
    (call,) = fake.requests
    assert call.path == SD3 and call.method == "POST"
    assert call.json == body
    assert call.raw == json.dumps(body).encode()
    assert call.headers["Ocp-Apim-Subscription-Key"] == KEY
    assert call.headers["Cache-Control"] == "no-cache"
    assert before <= call.at <= asyncio.get_running_loop().time()
    assert call.status == 200 and call.behaviour is Behaviour.OK
    assert call.image_url in fake.images


# ---- Behaviours --------------------------------------------------------------------------------------


async def test_validation_runs_before_behaviour_and_does_not_consume_it(fake, http):
    fake.push(Behaviour.SERVER_ERROR)
    assert (await post(http, fake, SDXL, {"prompt": "a", "guidance": 5}))[0] == 400
    assert (await post(http, fake, SDXL, MINIMAL[SDXL]))[0] == 500
    assert (await post(http, fake, SDXL, MINIMAL[SDXL]))[0] == 200


async def test_queue_is_fifo_then_default(fake, http):
    fake.push(Behaviour.FORBIDDEN, Behaviour.NOT_FOUND)
    fake.default = Behaviour.BAD_GATEWAY
    statuses = [(await post(http, fake, SD3, MINIMAL[SD3]))[0] for _ in range(4)]
    assert statuses == [403, 404, 502, 502]


@pytest.mark.parametrize(
    "behaviour,status",
    [
        (Behaviour.RATE_LIMITED, 429),
        (Behaviour.SERVER_ERROR, 500),
        (Behaviour.BAD_GATEWAY, 502),
        (Behaviour.FORBIDDEN, 403),
        (Behaviour.UNAUTHORIZED, 401),
        (Behaviour.NOT_FOUND, 404),
        (Behaviour.BAD_REQUEST, 400),
    ],
)
async def test_error_behaviours(fake, http, behaviour, status):
    fake.push(behaviour)
    got, headers, raw = await post(http, fake, LIGHTNING, MINIMAL[LIGHTNING])
    assert got == status
    assert "Retry-After" not in headers
    if behaviour is Behaviour.BAD_REQUEST:
        assert json.loads(raw) == {"error": "prompt violates policy"}
    else:
        assert json.loads(raw)["statusCode"] == status
    assert fake.requests[-1].behaviour is behaviour


@pytest.mark.parametrize("retry_after,header", [(2, "2"), (0.5, "0.5")])
async def test_rate_limited_with_retry_after(fake, http, retry_after, header):
    fake.push(Behaviour.RATE_LIMITED, Behaviour.RATE_LIMITED, retry_after=retry_after)
    for _ in range(2):
        status, headers, _ = await post(http, fake, SD35, MINIMAL[SD35])
        assert status == 429 and headers["Retry-After"] == header
    assert (await post(http, fake, SD35, MINIMAL[SD35]))[0] == 200


async def test_latency_applies_to_every_answer(fake, http):
    fake.latency = 0.15
    fake.push(Behaviour.LATENCY)
    for _ in range(2):  # LATENCY, then the default OK: both wait
        start = time.monotonic()
        status, _, _ = await post(http, fake, SD3, MINIMAL[SD3])
        assert status == 200 and time.monotonic() - start >= 0.15


async def test_hang_outlasts_client_timeout_and_close_is_prompt(http):
    server = FakePixazo()
    await server.start()
    server.push(Behaviour.HANG)
    with pytest.raises(asyncio.TimeoutError):
        await post(http, server, SD3, MINIMAL[SD3], timeout=aiohttp.ClientTimeout(total=0.2))
    # A hung call does not block the next one.
    assert (await post(http, server, SD3, MINIMAL[SD3]))[0] == 200
    start = time.monotonic()
    await server.close()
    assert time.monotonic() - start < 1.0
    assert server.requests[0].status is None and server.requests[0].behaviour is Behaviour.HANG


async def test_malformed_json(fake, http):
    fake.push(Behaviour.MALFORMED_JSON)
    async with http.post(
        fake.url(SD3), json=MINIMAL[SD3], headers={"Ocp-Apim-Subscription-Key": KEY}
    ) as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"] == "application/json"
        with pytest.raises(json.JSONDecodeError):
            await resp.json()


async def test_unexpected_shape(fake, http):
    fake.push(Behaviour.UNEXPECTED_SHAPE)
    status, _, raw = await post(http, fake, SDXL, MINIMAL[SDXL])
    assert status == 200 and json.loads(raw) == {"foo": 1}


@pytest.mark.parametrize("behaviour", [Behaviour.EMPTY_URL, Behaviour.NOT_SUCCEEDED])
@pytest.mark.parametrize("path,key", [(SD3, "output"), (SDXL, "imageUrl"), (LIGHTNING_STREAM, "imageUrl")])
async def test_empty_url(fake, http, behaviour, path, key):
    fake.push(behaviour)
    status, _, raw = await post(http, fake, path, MINIMAL[path])
    assert status == 200 and json.loads(raw) == {key: ""}


async def test_empty_url_and_not_succeeded_on_sd35(fake, http):
    fake.push(Behaviour.EMPTY_URL, Behaviour.NOT_SUCCEEDED)
    _, _, raw = await post(http, fake, SD35, MINIMAL[SD35])
    assert json.loads(raw)["status"] == "succeeded" and json.loads(raw)["output"] == ""
    _, _, raw = await post(http, fake, SD35, MINIMAL[SD35])
    assert json.loads(raw)["status"] == "failed" and not json.loads(raw)["output"]


@pytest.mark.parametrize("path,content_type", [(SDXL, "image/png"), (SD35, "image/webp")])
async def test_raw_bytes_on_any_endpoint(fake, http, path, content_type):
    fake.push(Behaviour.RAW_BYTES)
    status, headers, data = await post(http, fake, path, MINIMAL[path])
    assert status == 200 and headers["Content-Type"] == content_type
    assert images.is_image(data)


async def test_raw_bytes_on_stream_endpoint_even_when_switched_to_json(fake, http):
    fake.stream_raw_bytes = False
    fake.push(Behaviour.RAW_BYTES)
    status, headers, data = await post(http, fake, LIGHTNING_STREAM, MINIMAL[LIGHTNING_STREAM])
    assert headers["Content-Type"] == "image/png" and images.is_image(data)
    status, headers, raw = await post(http, fake, LIGHTNING_STREAM, MINIMAL[LIGHTNING_STREAM])
    assert "imageUrl" in json.loads(raw)


async def test_image_404(fake, http):
    fake.push(Behaviour.IMAGE_404)
    _, _, raw = await post(http, fake, SDXL, MINIMAL[SDXL])
    url = json.loads(raw)["imageUrl"]
    assert (await get(http, url))[0] == 404
    assert fake.image_fetches == [url]


@pytest.mark.parametrize("with_length", [True, False])
async def test_oversized(fake, http, with_length):
    fake.oversize_bytes = 300_000  # the default is 30 MiB; a smaller limit keeps the test fast
    fake.oversize_content_length = with_length
    fake.push(Behaviour.OVERSIZED)
    _, _, raw = await post(http, fake, SD3, MINIMAL[SD3])
    url = json.loads(raw)["output"]
    async with http.get(url) as resp:
        assert resp.status == 200 and resp.headers["Content-Type"] == "image/png"
        assert resp.content_length == (300_001 if with_length else None)
        data = await resp.read()
    assert len(data) == 300_001
    assert data.startswith(b"\x89PNG")


async def test_oversized_client_may_stop_reading_early(fake, http):
    fake.push(Behaviour.OVERSIZED)  # the real 30 MiB default: the client reads 64 KiB and leaves
    _, _, raw = await post(http, fake, SD3, MINIMAL[SD3])
    async with http.get(json.loads(raw)["output"]) as resp:
        assert resp.content_length == 30 * 1024 * 1024 + 1
        assert len(await resp.content.read(65536)) > 0


async def test_not_an_image(fake, http):
    fake.push(Behaviour.NOT_AN_IMAGE)
    _, _, raw = await post(http, fake, SDXL, MINIMAL[SDXL])
    status, headers, data = await get(http, json.loads(raw)["imageUrl"])
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert data.startswith(b"<html>")


async def test_echo_key_is_a_400_holding_the_key_it_was_sent(fake, http):
    fake.push(Behaviour.ECHO_KEY)
    status, _, raw = await post(http, fake, SDXL, MINIMAL[SDXL])
    assert status == 400 and f"Ocp-Apim-Subscription-Key={KEY}" in json.loads(raw)["message"]


async def test_long_status_on_sd35(fake, http):
    fake.push(Behaviour.LONG_STATUS)
    _, _, raw = await post(http, fake, SD35, MINIMAL[SD35])
    status = json.loads(raw)["status"]
    assert len(status) == 2500 and status.startswith(f"failed for key {KEY}")


@pytest.mark.parametrize("path", [SDXL, LIGHTNING_STREAM])
async def test_truncated_is_the_first_half_of_a_real_image(fake, http, path):
    fake.push(Behaviour.TRUNCATED)
    _, headers, raw = await post(http, fake, path, MINIMAL[path])
    data = raw if headers["Content-Type"].startswith("image/") else (await get(http, json.loads(raw)["imageUrl"]))[2]
    (call,) = fake.requests
    assert data == fake.images[call.image_url] and data.startswith(b"\x89PNG")
    with pytest.raises(OSError), Image.open(io.BytesIO(data)) as img:
        img.load()


async def test_redirect_hops_are_relative_then_absolute(fake, http):
    fake.redirect_hops = 2
    fake.push(Behaviour.REDIRECT)
    _, _, raw = await post(http, fake, SDXL, MINIMAL[SDXL])
    async with http.get(json.loads(raw)["imageUrl"], allow_redirects=False) as resp:
        assert resp.status == 302 and resp.headers["Location"].startswith("/redirect/0/")
    status, _, data = await get(http, json.loads(raw)["imageUrl"])
    assert status == 200 and images.is_image(data) and len(fake.redirects) == 3


async def test_tls_listener_redirects_to_plain_http(http):
    from tests.fakes.pixazo import tls_client_context

    async with FakePixazo(tls=True) as fake:
        fake.push(Behaviour.REDIRECT_TO_HTTP)
        _, _, raw = await post(http, fake, SDXL, MINIMAL[SDXL])
        url = json.loads(raw)["imageUrl"]
        assert url.startswith(fake.https_base_url + "/redirect/0/")
        async with http.get(url, allow_redirects=False, ssl=tls_client_context()) as resp:
            assert resp.status == 302 and resp.headers["Location"].startswith(fake.base_url + "/images/")


async def test_behaviour_can_be_given_by_value(fake, http):
    fake.push("forbidden")
    assert (await post(http, fake, SD3, MINIMAL[SD3]))[0] == 403


# ---- Inpainting inputs -------------------------------------------------------------------------------


async def test_inpainting_fetches_both_urls_and_answers_at_the_image_size(fake, http, assets):
    body = {
        "prompt": "Change to a lion",
        "imageUrl": assets.base + "/dog.png",
        "maskUrl": assets.base + "/dog-mask.png",
    }
    status, _, data = await post(http, fake, INPAINT_STREAM, body)
    assert status == 200
    assert images.image_size(data) == DOG_SIZE
    assert assets.seen == ["/dog.png", "/dog-mask.png"]
    assert fake.inpaint_fetches == [
        (body["imageUrl"], 200, len(assets.files["/dog.png"][0])),
        (body["maskUrl"], 200, len(assets.files["/dog-mask.png"][0])),
    ]


@pytest.mark.parametrize(
    "image,mask,failing,status",
    [
        ("/dog.png", "/missing-mask.png", "maskUrl", 404),
        ("/missing.png", "/dog-mask.png", "imageUrl", 404),
        ("/page.html", "/dog-mask.png", "imageUrl", 200),
    ],
)
async def test_inpainting_input_that_cannot_be_used_is_400_naming_it(
    fake, http, assets, image, mask, failing, status
):
    body = {"prompt": "Change to a lion", "imageUrl": assets.base + image, "maskUrl": assets.base + mask}
    got, _, raw = await post(http, fake, INPAINT, body)
    assert got == 400
    error = json.loads(raw)["error"]
    assert error.startswith(failing) and body[failing] in error
    assert fake.inpaint_fetches[-1][:2] == (body[failing], status)


async def test_inpainting_unreachable_url_is_400(fake, http, assets):
    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    body = {
        "prompt": "a",
        "imageUrl": f"http://127.0.0.1:{port}/dog.png",
        "maskUrl": assets.base + "/dog-mask.png",
    }
    got, _, raw = await post(http, fake, INPAINT, body)
    assert got == 400 and json.loads(raw)["error"].startswith("imageUrl")
    assert fake.inpaint_fetches == [(body["imageUrl"], None, 0)]


# ---- Image helpers -----------------------------------------------------------------------------------


async def test_image_helpers():  # async only because of the module-wide asyncio mark
    assert images.image_format(images.make_png(5, 3)) == "PNG"
    assert images.image_format(images.make_jpeg(5, 3)) == "JPEG"
    assert images.image_format(images.make_webp(5, 3)) == "WEBP"
    assert images.image_size(images.make_webp(7, 2, color=(1, 2, 3))) == (7, 2)
    for kind, left, right in [("half", 255, 0), ("black", 0, 0), ("white", 255, 255)]:
        data = images.make_mask(8, 4, kind=kind)
        assert images.image_mode(data) == "L"
        with Image.open(io.BytesIO(data)) as mask:
            assert (mask.getpixel((0, 0)), mask.getpixel((7, 3))) == (left, right)
    assert not images.is_image(b"<html>")
