"""`FakePixazo`: the aiohttp server, the order of its checks, inpainting fetches and result images.

Order of checks for an API call (tests rely on it):
    path (404) -> method (405) -> subscription key (401/403) -> body (400)
    -> inpainting input fetches -> queued/default behaviour -> answer.

The two inpainting endpoints are the document's only ones that take image URLs (`imageUrl`,
`maskUrl`; SD3's `prompt_strength` speaks of image-to-image, but no field carries an image). Like the
real service the fake GETs each URL itself and fails the call when it cannot use what it got: an
answer other than 200 (a 404, an expired Discord link), no answer, more than `input_max_bytes`, or
bytes that are not an image. It fails the way `failed_input_answer` says (a 400 naming the field, or
the document's 200 with an empty `imageUrl`), and records what it fetched: `RecordedCall.inputs` and
`fetched_inputs` hold the bytes, the decoded size, mode and format, so tests assert the exact image and
mask Pixazo saw.
"""

from __future__ import annotations

import asyncio
import collections
import io
import uuid
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web
from PIL import Image

from tests.fakes.images import CONTENT_TYPES, encode, gradient, is_image, make_png, pillow_format

from .answers import (
    MISSING_KEY,
    WRONG_KEY,
    echo_key,
    gateway_error,
    image_format_from_url,
    json_response,
    output_size,
    prediction_id,
    prompt_color,
    result_body,
    retry_after_value,
)
from .behaviours import IMAGE_BEHAVIOURS, Behaviour
from .contract import ENDPOINTS, EndpointSpec
from .rules import BadRequest, parse_body, validate
from .tls import tls_server_context


class InputFailed(BadRequest):
    """An inpainting input could not be fetched or is not an image: the generation fails."""


HANG_SECONDS = 3600.0  # far past any client timeout; cut short by close()
FETCH_LIMIT = 20 * 1024 * 1024  # inpainting inputs larger than this are refused
_CHUNK = bytes(64 * 1024)


@dataclass
class FetchedInput:
    """One input image the fake fetched for an inpainting call, as Pixazo saw it."""

    field: str  # "imageUrl" or "maskUrl"
    url: str
    status: int | None  # None when no answer came (refused connection, timeout)
    data: bytes = b""  # what was read (up to the limit)
    size: tuple[int, int] | None = None  # decoded (width, height), when it is an image
    mode: str | None = None  # Pillow's mode ("RGB", "L", ...), when it is an image
    format: str | None = None  # Pillow's format ("PNG", ...), when it is an image
    error: str | None = None  # why the call failed on this input, if it did


@dataclass
class RecordedCall:
    path: str
    method: str
    headers: dict[str, str]
    at: float  # event-loop time the request arrived
    raw: bytes = b""
    json: Any = None  # the parsed body, or None when it was not JSON
    status: int | None = None  # what was answered; None while pending or when hung
    behaviour: Behaviour | None = None  # None when refused before the behaviour stage
    image_url: str | None = None  # the URL of the image generated for this call, if any
    inputs: dict[str, FetchedInput] = field(default_factory=dict)  # inpainting: field -> what was fetched


class FakePixazo:
    def __init__(self, api_key: str = "test-pixazo-key", *, tls: bool = False) -> None:
        self.api_key = api_key
        self.base_url = ""
        self.tls = tls  # also listen with TLS on a second port, at https_base_url
        self.https_base_url = ""
        self.long_status_chars = 2500
        self.bad_request_message = "prompt violates policy"
        self.result_url_suffix = ""  # appended to result URLs in answers, e.g. a signed query string
        self.redirect_hops = 1
        self.redirects: list[str] = []  # every redirect URL fetched, in order
        self.requests: list[RecordedCall] = []
        self.images: dict[str, bytes] = {}
        self.image_fetches: list[str] = []
        self.inpaint_fetches: list[tuple[str, int | None, int]] = []  # (url, status, bytes read) of each
        self.fetched_inputs: list[FetchedInput] = []  # every inpainting input fetched, in order
        # How a call whose image or mask cannot be used is answered: "bad_request" (400 naming the field,
        # one of the document's listed codes) or "empty_url" (200 {"imageUrl": ""}, the document's own
        # example of a failed generation).
        self.failed_input_answer = "bad_request"
        self.input_max_bytes = FETCH_LIMIT  # a larger image or mask fails the call
        self.default = Behaviour.OK
        self.default_retry_after: float | None = None  # Retry-After when the default is RATE_LIMITED
        self.latency = 0.0
        self._image_stall: asyncio.Event | None = None
        # API calls being answered now, and the most at once: the bot's concurrency bound, seen from here.
        self.in_flight = 0
        self.max_in_flight = 0
        self.oversize_bytes = 30 * 1024 * 1024
        self.oversize_content_length = True  # False: chunked, so a client must count as it reads
        self.stream_raw_bytes = True  # stream endpoints answer the image itself (else JSON)
        self.fetch_timeout = 5.0  # for inpainting's imageUrl / maskUrl fetches
        # (bytes, format such as "png") answered as every result instead of a generated gradient
        self.result_override: tuple[bytes, str] | None = None
        self._queue: collections.deque[tuple[Behaviour, float | None]] = collections.deque()
        self._html_urls: set[str] = set()
        self._oversized_urls: set[str] = set()
        self._closing = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None

    # -- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/images/{name}", self._serve_image)
        app.router.add_get("/redirect/{hops}/{name}", self._redirect)
        app.router.add_route("*", "/{tail:.*}", self._handle_api)
        # A short shutdown timeout: close() wakes hung handlers itself, so nothing should need more.
        self._runner = web.AppRunner(app, shutdown_timeout=1.0, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, backlog=1024)  # bursts beyond the default 128
        await site.start()
        host, port = self._runner.addresses[0][:2]  # port 0 above: the OS picked a free one
        self.base_url = f"http://{host}:{port}"
        if self.tls:
            secure = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=tls_server_context())
            await secure.start()
            self.https_base_url = f"https://127.0.0.1:{self._runner.addresses[-1][1]}"
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.fetch_timeout))

    async def close(self) -> None:
        self._closing.set()  # wakes HANG / latency sleeps so cleanup does not wait on them
        if self._session is not None:
            await self._session.close()
            self._session = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakePixazo:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # -- test controls --------------------------------------------------------------------------

    def push(self, *behaviours: Behaviour, retry_after: float | None = None) -> None:
        """Queue one-shot behaviours, consumed in order by calls that pass validation."""
        for behaviour in behaviours:
            self._queue.append((Behaviour(behaviour), retry_after))

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    def calls_to(self, path: str) -> list[RecordedCall]:
        return [call for call in self.requests if call.path == path]

    def _next_behaviour(self) -> tuple[Behaviour, float | None]:
        if self._queue:
            return self._queue.popleft()
        return self.default, self.default_retry_after

    async def _sleep(self, seconds: float) -> bool:
        """Sleep unless the fake closes first; True when it closed."""
        if seconds <= 0:
            return self._closing.is_set()
        try:
            await asyncio.wait_for(self._closing.wait(), seconds)
            return True
        except TimeoutError:
            return False

    # -- API calls ------------------------------------------------------------------------------

    async def _handle_api(self, request: web.Request) -> web.StreamResponse:
        call = RecordedCall(
            path=request.path,
            method=request.method,
            headers=dict(request.headers),
            at=asyncio.get_running_loop().time(),
        )
        self.requests.append(call)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            response = await self._answer(request, call)
        finally:
            self.in_flight -= 1
        call.status = response.status if response is not None else None
        if response is None:  # hung until close: answer something so aiohttp is content
            return web.Response(status=503)
        return response

    async def _answer(self, request: web.Request, call: RecordedCall) -> web.StreamResponse | None:
        spec = ENDPOINTS.get(request.path)
        if spec is None:
            return gateway_error(404, "Resource not found")
        if request.method != "POST":
            return gateway_error(405, "Method not allowed", {"Allow": "POST"})
        key = request.headers.get("Ocp-Apim-Subscription-Key")
        if not key:
            return gateway_error(401, MISSING_KEY)
        if key != self.api_key:
            return gateway_error(403, WRONG_KEY)
        call.raw = await request.read()
        try:
            body, source = await self._accept(request, spec, call)
        except InputFailed as exc:
            if self.failed_input_answer == "empty_url":
                return json_response(200, result_body(spec, ""))
            return json_response(400, {"error": str(exc)})
        except BadRequest as exc:
            return json_response(400, {"error": str(exc)})
        behaviour, retry_after = self._next_behaviour()
        call.behaviour = behaviour
        if await self._sleep(self.latency):
            return None
        return await self._perform(behaviour, retry_after, spec, body, source, call)

    async def _accept(
        self, request: web.Request, spec: EndpointSpec, call: RecordedCall
    ) -> tuple[dict[str, Any], tuple[int, int] | None]:
        """Parse, validate and (for inpainting) fetch inputs; returns the body and the input's size."""
        parsed = parse_body(call.raw)
        call.json = parsed
        if request.content_type != "application/json":
            # The document's one required content type; a form body would reach the model empty.
            raise BadRequest(f"Content-Type must be application/json, got {request.content_type!r}")
        body = validate(spec, parsed)
        source = await self._fetch_inputs(body, call) if spec.inpainting else None
        return body, source

    # -- inpainting inputs ----------------------------------------------------------------------

    async def _fetch_inputs(self, body: dict[str, Any], call: RecordedCall) -> tuple[int, int] | None:
        """Fetch imageUrl then maskUrl like the real service; the image's size, if one was given."""
        size = None
        for name in ("imageUrl", "maskUrl"):
            if name in body:
                fetched = await self._fetch_input(name, body[name])
                call.inputs[name] = fetched
                if fetched.error is not None:
                    raise InputFailed(fetched.error)
                if name == "imageUrl":
                    size = fetched.size
        return size

    async def _fetch_input(self, name: str, url: str) -> FetchedInput:
        """GET one input (capped at input_max_bytes) and decode it; the record says what went wrong, if anything."""
        assert self._session is not None, "start() first"
        fetched = FetchedInput(name, url, None)
        try:
            async with self._session.get(url) as resp:
                fetched.status = resp.status
                fetched.data = await self._read_limited(resp, self.input_max_bytes)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            fetched.error = f"{name} could not be fetched ({type(exc).__name__}: {exc}): {url}"
        if fetched.error is None and fetched.status != 200:
            fetched.error = f"{name} could not be fetched (HTTP {fetched.status}): {url}"
        if fetched.error is None:
            self._decode(fetched)
        self.fetched_inputs.append(fetched)
        self.inpaint_fetches.append((url, fetched.status, len(fetched.data)))
        return fetched

    @staticmethod
    def _decode(fetched: FetchedInput) -> None:
        if not is_image(fetched.data):
            fetched.error = f"{fetched.field} is not an image: {fetched.url}"
            return
        with Image.open(io.BytesIO(fetched.data)) as image:
            fetched.size, fetched.mode, fetched.format = image.size, image.mode, image.format

    @staticmethod
    async def _read_limited(resp: aiohttp.ClientResponse, limit: int) -> bytes:
        chunks: list[bytes] = []
        total = 0
        async for chunk in resp.content.iter_chunked(64 * 1024):
            total += len(chunk)
            if total > limit:
                raise ValueError(f"larger than {limit} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    # -- behaviours -----------------------------------------------------------------------------

    async def _perform(
        self,
        behaviour: Behaviour,
        retry_after: float | None,
        spec: EndpointSpec,
        body: dict[str, Any],
        source: tuple[int, int] | None,
        call: RecordedCall,
    ) -> web.StreamResponse | None:
        if behaviour is Behaviour.HANG:
            await self._sleep(HANG_SECONDS)
            return None
        if behaviour is Behaviour.ECHO_KEY:
            return echo_key(call.headers)
        if behaviour is Behaviour.BAD_REQUEST:
            return json_response(400, {"error": self.bad_request_message})
        simple = self._simple_error(behaviour, retry_after)
        if simple is not None:
            return simple
        if behaviour in IMAGE_BEHAVIOURS:
            return self._success(spec, body, source, call, raw=behaviour is Behaviour.RAW_BYTES, behaviour=behaviour)
        return self._odd_success(behaviour, spec)

    @staticmethod
    def _simple_error(behaviour: Behaviour, retry_after: float | None) -> web.Response | None:
        if behaviour is Behaviour.RATE_LIMITED:
            headers = {"Retry-After": retry_after_value(retry_after)} if retry_after is not None else None
            return gateway_error(429, "Rate limit is exceeded. Try again later.", headers)
        errors = {
            Behaviour.SERVER_ERROR: (500, "Internal server error"),
            Behaviour.BAD_GATEWAY: (502, "Bad gateway"),
            Behaviour.FORBIDDEN: (403, WRONG_KEY),
            Behaviour.UNAUTHORIZED: (401, MISSING_KEY),
            Behaviour.NOT_FOUND: (404, "Resource not found"),
        }
        if behaviour in errors:
            return gateway_error(*errors[behaviour])
        return None

    def _success(
        self,
        spec: EndpointSpec,
        body: dict[str, Any],
        source: tuple[int, int] | None,
        call: RecordedCall,
        raw: bool,
        behaviour: Behaviour = Behaviour.OK,
    ) -> web.Response:
        fmt = body.get("output_format", spec.default_format)
        width, height = output_size(spec, body, source)
        if self.result_override is not None:
            data, fmt = self.result_override
        else:
            data = encode(gradient(width, height, prompt_color(body["prompt"])), fmt, body.get("output_quality"))
        if behaviour is Behaviour.TRUNCATED:
            data = data[: len(data) // 2]  # the header and the first half of the pixels: looks fine, is not
        url = self._new_url(fmt)
        self.images[url] = data  # raw answers too, so tests can compare bytes either way
        call.image_url = url
        if raw or (spec.stream and self.stream_raw_bytes):
            return web.Response(status=200, body=data, content_type=CONTENT_TYPES[pillow_format(fmt)])
        return json_response(200, result_body(spec, self._answer_url(behaviour, url)))

    def _answer_url(self, behaviour: Behaviour, url: str) -> str:
        """Where the answer says the image is: the image itself, or a way round to it."""
        name = url.rsplit("/", 1)[-1]
        if behaviour is Behaviour.REDIRECT:
            return f"{self.base_url}/redirect/{self.redirect_hops - 1}/{name}"
        if behaviour is Behaviour.REDIRECT_TO_HTTP:
            assert self.https_base_url, "REDIRECT_TO_HTTP needs FakePixazo(tls=True)"
            return f"{self.https_base_url}/redirect/0/{name}"
        if behaviour is Behaviour.LOCALHOST_URL:
            return url.replace("://127.0.0.1:", "://localhost:", 1) + self.result_url_suffix
        return url + self.result_url_suffix

    def _odd_success(self, behaviour: Behaviour, spec: EndpointSpec) -> web.Response:
        """The 200s that a robust client must still treat as failures."""
        if behaviour is Behaviour.MALFORMED_JSON:
            return web.Response(status=200, body=b'{"imageUrl": "http://', content_type="application/json")
        if behaviour is Behaviour.UNEXPECTED_SHAPE:
            return json_response(200, {"foo": 1})
        if behaviour is Behaviour.NOT_SUCCEEDED and spec.result == "prediction":
            return json_response(200, {"id": prediction_id(), "status": "failed", "output": None})
        if behaviour is Behaviour.LONG_STATUS and spec.result == "prediction":
            # A status no document describes: long, with markup and mentions, echoing the key.
            status = (f"failed for key {self.api_key}: " + "**boom** @everyone <@123> https://x.example " * 100)
            return json_response(200, {"id": prediction_id(), "status": status[: self.long_status_chars],
                                        "output": None})
        if behaviour in (Behaviour.EMPTY_URL, Behaviour.NOT_SUCCEEDED, Behaviour.LONG_STATUS):
            return json_response(200, result_body(spec, ""))
        if behaviour is Behaviour.IMAGE_404:
            return json_response(200, result_body(spec, self._new_url("png")))  # never registered
        if behaviour is Behaviour.OVERSIZED:
            url = self._new_url("png")
            self._oversized_urls.add(url)
            return json_response(200, result_body(spec, url))
        if behaviour is Behaviour.NOT_AN_IMAGE:
            url = self._new_url("png")
            self._html_urls.add(url)
            return json_response(200, result_body(spec, url))
        raise AssertionError(f"unhandled behaviour {behaviour}")

    def _new_url(self, fmt: str) -> str:
        return f"{self.base_url}/images/{uuid.uuid4().hex}.{fmt}"

    async def _redirect(self, request: web.Request) -> web.Response:
        self.redirects.append(str(request.url))
        hops, name = int(request.match_info["hops"]), request.match_info["name"]
        # Relative while hops remain, so clients must resolve Location against the current URL.
        target = f"/redirect/{hops - 1}/{name}" if hops > 0 else f"{self.base_url}/images/{name}"
        return web.Response(status=302, headers={"Location": target})

    # -- result images --------------------------------------------------------------------------

    def stall_images(self) -> asyncio.Event:
        """Hold every result image's download until the returned event is set (a slow link to Pixazo's storage)."""
        self._image_stall = asyncio.Event()
        return self._image_stall

    async def _serve_image(self, request: web.Request) -> web.StreamResponse:
        url = f"{self.base_url}{request.path}"
        self.image_fetches.append(url)
        if self._image_stall is not None:
            await self._image_stall.wait()
        if url in self.images:
            fmt = image_format_from_url(url)
            return web.Response(body=self.images[url], content_type=CONTENT_TYPES[fmt])
        if url in self._html_urls:
            return web.Response(text="<html><body>Not an image</body></html>", content_type="text/html")
        if url in self._oversized_urls:
            return await self._stream_oversized(request)
        return gateway_error(404, "Resource not found")

    async def _stream_oversized(self, request: web.Request) -> web.StreamResponse:
        """A valid PNG followed by zero padding, written chunk by chunk: never all in memory."""
        total = self.oversize_bytes + 1
        response = web.StreamResponse(status=200, headers={"Content-Type": "image/png"})
        if self.oversize_content_length:
            response.content_length = total
        else:
            response.enable_chunked_encoding()
        await response.prepare(request)
        head = make_png(8, 8)[:total]
        try:
            await response.write(head)
            sent = len(head)
            while sent < total and not self._closing.is_set():
                chunk = _CHUNK[: total - sent]
                await response.write(chunk)
                sent += len(chunk)
            await response.write_eof()
        except ConnectionError:
            pass  # the client gave up reading, which is what a well-behaved client does here
        return response
