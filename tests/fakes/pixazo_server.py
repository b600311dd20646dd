"""A fake Pixazo API: a real aiohttp server on 127.0.0.1 that speaks the documented protocol.

Written from the provider's document (/work/shared/seeds/000_4dbacd72a8a12f7f.txt), NOT from the
bot's model catalog: the field table below is this file's own reading of the document, so a wrong
entry in the bot's catalog fails a test instead of agreeing with itself. Nothing from `bot/` is
imported here on purpose.

Order of checks for an API call (tests rely on it):
    path (404) -> method (405) -> subscription key (401/403) -> body (400)
    -> inpainting input fetches (400) -> queued/default behaviour -> answer.
So a wrong body is refused whatever behaviour is queued, and a queued behaviour is only consumed by
a call that got past validation.

Usage:
    fake = FakePixazo()
    await fake.start()          # fake.base_url == "http://127.0.0.1:<port>"
    fake.push(Behaviour.RATE_LIMITED, retry_after=0.1)
    ...
    await fake.close()
"""

from __future__ import annotations

import asyncio
import collections
import enum
import hashlib
import json
import math
import re
import ssl
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from yarl import URL

from .images import CONTENT_TYPES, encode, gradient, image_size, is_image, make_png, pillow_format

TLS_DIR = Path(__file__).with_name("tls")
# A throwaway self-signed certificate for 127.0.0.1 and localhost, valid 2000-2126; test use only.
TLS_CERT, TLS_KEY = TLS_DIR / "cert.pem", TLS_DIR / "key.pem"


def tls_server_context() -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(TLS_CERT, TLS_KEY)
    return context


def tls_client_context() -> ssl.SSLContext:
    """A client context that trusts the fake's certificate (and nothing else)."""
    return ssl.create_default_context(cafile=str(TLS_CERT))

# ---------------------------------------------------------------------------------------------
# The contract, as read from the document
# ---------------------------------------------------------------------------------------------

STRING, INTEGER, NUMBER, URL_KIND = "string", "integer", "number", "url"

# The document's SD3 aspect ratios (the digest lists them; the document says "e.g.").
SD3_ASPECT_RATIOS = ("1:1", "16:9", "21:9", "3:2", "2:3", "4:5", "5:4", "9:16", "9:21")
# SD3.5's document only says 'e.g., "1:1", "16:9"', so there we check the W:H shape only.
RATIO_SHAPE = re.compile(r"^[1-9][0-9]{0,2}:[1-9][0-9]{0,2}$")


@dataclass(frozen=True)
class FieldSpec:
    name: str
    kind: str  # STRING | INTEGER | NUMBER | URL_KIND
    required: bool = False
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] | None = None
    pattern: re.Pattern[str] | None = None


@dataclass(frozen=True)
class EndpointSpec:
    path: str
    fields: tuple[FieldSpec, ...]
    result: str  # "output" (SD3), "prediction" (SD3.5: id/status/output), "imageUrl" (the rest)
    default_format: str = "png"
    stream: bool = False  # may answer raw image bytes instead of JSON
    inpainting: bool = False  # fetches imageUrl / maskUrl before answering
    # Alternative spellings accepted for a field (the document's own example uses them).
    aliases: tuple[tuple[str, str], ...] = ()

    def field(self, name: str) -> FieldSpec | None:
        return next((f for f in self.fields if f.name == name), None)


def _prompt() -> FieldSpec:
    return FieldSpec("prompt", STRING, required=True)


def _sdxl_fields(negative: str, guidance: str) -> tuple[FieldSpec, ...]:
    # SDXL Base and Lightning differ only in two names; ranges are the model host's (see digest).
    return (
        _prompt(),
        FieldSpec(negative, STRING),
        FieldSpec("height", INTEGER, minimum=256, maximum=2048),
        FieldSpec("width", INTEGER, minimum=256, maximum=2048),
        FieldSpec("num_steps", INTEGER, minimum=1, maximum=20),
        # The document says Integer; a guidance scale is naturally fractional, so floats pass too.
        FieldSpec(guidance, NUMBER, minimum=0),
        FieldSpec("seed", INTEGER, minimum=0),
    )


_INPAINTING_FIELDS = (
    _prompt(),
    FieldSpec("imageUrl", URL_KIND),
    FieldSpec("maskUrl", URL_KIND),
    FieldSpec("negativePrompt", STRING),
    # No range in the document; >= 1 only rules out a meaningless zero-sized or zero-step request.
    FieldSpec("height", INTEGER, minimum=1),
    FieldSpec("width", INTEGER, minimum=1),
    FieldSpec("num_steps", INTEGER, minimum=1),
    FieldSpec("guidance", NUMBER, minimum=0),
    FieldSpec("seed", INTEGER, minimum=0),
)

ENDPOINTS: dict[str, EndpointSpec] = {
    spec.path: spec
    for spec in (
        EndpointSpec(
            "/sd3/v1/getData",
            (
                _prompt(),
                FieldSpec("negativePrompt", STRING),
                FieldSpec("steps", INTEGER, minimum=1, maximum=28),
                FieldSpec("cfg", NUMBER, minimum=0, maximum=20),
                FieldSpec("aspect_ratio", STRING, choices=SD3_ASPECT_RATIOS),
                FieldSpec("output_format", STRING, choices=("webp", "jpg", "png")),
                FieldSpec("output_quality", INTEGER, minimum=0, maximum=100),
                FieldSpec("prompt_strength", NUMBER, minimum=0, maximum=1),
            ),
            result="output",
            default_format="webp",  # the document: output_format Default: "webp"
        ),
        EndpointSpec(
            "/sd3-5/v1/r-sd-3-5-large",
            # The document marks every field required.
            (
                _prompt(),
                FieldSpec("aspect_ratio", STRING, required=True, pattern=RATIO_SHAPE),
                FieldSpec("cfg", NUMBER, required=True, minimum=1, maximum=20),
                FieldSpec("steps", NUMBER, required=True, minimum=20, maximum=100),
                FieldSpec("output_format", STRING, required=True, choices=("webp", "jpg", "png", "jpeg")),
                FieldSpec("output_quality", NUMBER, required=True, minimum=1, maximum=100),
                FieldSpec("prompt_strength", NUMBER, required=True, minimum=0, maximum=1),
            ),
            result="prediction",
        ),
        EndpointSpec(
            "/getImage/v1/getSDXLImage", _sdxl_fields("negative_prompt", "guidance_scale"), "imageUrl"
        ),
        EndpointSpec(
            "/sdxl_lightning/getImage/v1/getSDXLImage", _sdxl_fields("negativePrompt", "guidance"), "imageUrl"
        ),
        EndpointSpec(
            "/sdxl_lightning/getImage/v1/getSDXLImageStream",
            _sdxl_fields("negativePrompt", "guidance"),
            "imageUrl",
            stream=True,
        ),
        EndpointSpec(
            "/inpainting/v1/getImage",
            _INPAINTING_FIELDS,
            "imageUrl",
            inpainting=True,
            # The parameter table says negativePrompt; the endpoint's own example sends negative_prompt.
            aliases=(("negative_prompt", "negativePrompt"),),
        ),
        EndpointSpec(
            "/inpainting/v1/getImageStream",
            _INPAINTING_FIELDS,
            "imageUrl",
            stream=True,
            inpainting=True,
            aliases=(("negative_prompt", "negativePrompt"),),
        ),
    )
}

# ---------------------------------------------------------------------------------------------
# Behaviours and records
# ---------------------------------------------------------------------------------------------


class Behaviour(enum.Enum):
    OK = "ok"
    LATENCY = "latency"  # same answer as OK; every answer already waits `fake.latency` seconds
    RATE_LIMITED = "rate_limited"  # 429, Retry-After when a retry_after was given
    SERVER_ERROR = "server_error"  # 500
    BAD_GATEWAY = "bad_gateway"  # 502
    HANG = "hang"  # never answers (until the fake closes)
    MALFORMED_JSON = "malformed_json"  # 200, application/json, body not JSON
    UNEXPECTED_SHAPE = "unexpected_shape"  # 200, {"foo": 1}
    EMPTY_URL = "empty_url"  # 200, url field ""
    NOT_SUCCEEDED = "not_succeeded"  # SD3.5: status "failed"; elsewhere same as EMPTY_URL
    RAW_BYTES = "raw_bytes"  # 200, the image itself as the body (any endpoint)
    IMAGE_404 = "image_404"  # 200, URL that 404s
    OVERSIZED = "oversized"  # 200, URL to a body larger than fake.oversize_bytes
    NOT_AN_IMAGE = "not_an_image"  # 200, URL serving text/html
    FORBIDDEN = "forbidden"  # 403
    UNAUTHORIZED = "unauthorized"  # 401
    NOT_FOUND = "not_found"  # 404
    BAD_REQUEST = "bad_request"  # 400 {"error": fake.bad_request_message}
    ECHO_KEY = "echo_key"  # 400 whose message echoes the subscription-key header, as API gateways do
    LONG_STATUS = "long_status"  # SD3.5: a status of fake.long_status_chars characters; elsewhere EMPTY_URL
    TRUNCATED = "truncated"  # a real image cut to half its bytes (by URL, or raw on stream paths)
    REDIRECT = "redirect"  # 200, URL that redirects fake.redirect_hops times before the image
    REDIRECT_TO_HTTP = "redirect_to_http"  # 200, https URL (needs tls=) that redirects to the http image
    LOCALHOST_URL = "localhost_url"  # 200, URL naming the host "localhost" instead of 127.0.0.1


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


class BadRequest(Exception):
    """A 400 with {"error": message}; the message always names the offending field or URL."""


_MISSING_KEY = (
    "Access denied due to missing subscription key. "
    "Make sure to include subscription key when making requests to an API."
)
_WRONG_KEY = "Access denied due to invalid subscription key. Make sure to provide a valid key for an active subscription."

# Behaviours that make a real image (and then maybe spoil it or hide it behind a detour).
_IMAGE_BEHAVIOURS = frozenset({Behaviour.OK, Behaviour.LATENCY, Behaviour.RAW_BYTES, Behaviour.TRUNCATED,
                               Behaviour.REDIRECT, Behaviour.REDIRECT_TO_HTTP, Behaviour.LOCALHOST_URL})
HANG_SECONDS = 3600.0  # far past any client timeout; cut short by close()
DEFAULT_SIDE = 1024  # the document's example size; generated images are this / SCALE
SCALE = 16  # generated images are 1/16 of the requested size, so tests stay fast
MAX_SIDE = 512  # the fake's own guard against a silly request eating memory
FETCH_LIMIT = 20 * 1024 * 1024  # inpainting inputs larger than this are refused
_CHUNK = bytes(64 * 1024)


def _json_response(status: int, payload: Any, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        status=status,
        body=json.dumps(payload).encode(),
        content_type="application/json",
        charset="utf-8",
        headers=headers,
    )


def _gateway_error(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    # The gateway's own errors (auth, throttling, routing) use this Azure-APIM-style shape.
    return _json_response(status, {"statusCode": status, "message": message}, headers)


# ---------------------------------------------------------------------------------------------
# Validation: pure functions over the table above
# ---------------------------------------------------------------------------------------------


def _reject_constant(name: str) -> Any:
    # json.loads accepts NaN/Infinity by default; no real JSON API does.
    raise ValueError(f"{name} is not valid JSON")


def parse_body(raw: bytes) -> Any:
    """The JSON value of the body; raises BadRequest when it is not strict JSON."""
    try:
        return json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadRequest(f"body is not valid JSON ({exc})") from None


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "boolean", int: "integer", float: "number", str: "string"}.get(
        type(value), type(value).__name__
    )


def _check_type(spec: FieldSpec, value: Any) -> None:
    # bool is a subclass of int in Python, but true is not an integer in JSON.
    if spec.kind == INTEGER:
        ok = type(value) is int
    elif spec.kind == NUMBER:
        ok = type(value) in (int, float) and math.isfinite(value)
    else:
        ok = isinstance(value, str)
    if not ok:
        wanted = "URL string" if spec.kind == URL_KIND else spec.kind
        raise BadRequest(f"field '{spec.name}' must be {wanted}, got {_type_name(value)}")


def _check_value(spec: FieldSpec, value: Any) -> None:
    if spec.minimum is not None and value < spec.minimum:
        raise BadRequest(f"field '{spec.name}' must be >= {spec.minimum:g}, got {value!r}")
    if spec.maximum is not None and value > spec.maximum:
        raise BadRequest(f"field '{spec.name}' must be <= {spec.maximum:g}, got {value!r}")
    if spec.choices is not None and value not in spec.choices:
        raise BadRequest(f"field '{spec.name}' must be one of {', '.join(spec.choices)}; got {value!r}")
    if spec.pattern is not None and not spec.pattern.match(value):
        raise BadRequest(f"field '{spec.name}' has an invalid value {value!r}")
    if spec.kind == URL_KIND:
        _check_url(spec.name, value)
    if spec.name == "prompt" and not value.strip():
        raise BadRequest("field 'prompt' must not be empty")


def _check_url(name: str, value: str) -> None:
    try:
        url = URL(value)
    except ValueError:
        url = None
    if url is None or url.scheme not in ("http", "https") or not url.host:
        raise BadRequest(f"field '{name}' must be an absolute http(s) URL, got {value!r}")


def _resolve_aliases(spec: EndpointSpec, body: dict[str, Any]) -> dict[str, Any]:
    """Rename accepted alternative spellings to the table's name; both spellings at once is a 400."""
    body = dict(body)
    for alias, canonical in spec.aliases:
        if alias in body:
            if canonical in body:
                raise BadRequest(f"send only one of '{canonical}' and '{alias}'")
            body[canonical] = body.pop(alias)
    return body


def validate(spec: EndpointSpec, body: Any) -> dict[str, Any]:
    """The body with aliases resolved, or BadRequest naming the first problem found."""
    if not isinstance(body, dict):
        raise BadRequest(f"body must be a JSON object, got {_type_name(body)}")
    allowed = {f.name for f in spec.fields} | {alias for alias, _ in spec.aliases}
    for name in body:
        if name not in allowed:
            raise BadRequest(f"unknown field '{name}' (this endpoint accepts: {', '.join(sorted(allowed))})")
    body = _resolve_aliases(spec, body)
    for f in spec.fields:
        if f.required and f.name not in body:
            raise BadRequest(f"missing required field '{f.name}'")
    for f in spec.fields:
        if f.name in body:
            _check_type(f, body[f.name])
            _check_value(f, body[f.name])
    return body


# ---------------------------------------------------------------------------------------------
# Image generation: sizes and formats
# ---------------------------------------------------------------------------------------------


def _scaled(side: int) -> int:
    return max(1, min(MAX_SIDE, round(side / SCALE)))


def _aspect_size(ratio: str) -> tuple[int, int]:
    """About a megapixel at the given W:H ratio, like SD3 produces, then scaled down."""
    w, h = (int(part) for part in ratio.split(":"))
    return _scaled(round(DEFAULT_SIDE * math.sqrt(w / h))), _scaled(round(DEFAULT_SIDE * math.sqrt(h / w)))


def output_size(spec: EndpointSpec, body: dict[str, Any], source: tuple[int, int] | None) -> tuple[int, int]:
    if spec.result in ("output", "prediction"):
        return _aspect_size(body.get("aspect_ratio", "1:1"))
    if spec.inpainting and source is not None and "width" not in body and "height" not in body:
        return source  # inpainting answers at the input image's size unless told otherwise
    return _scaled(body.get("width", DEFAULT_SIDE)), _scaled(body.get("height", DEFAULT_SIDE))


def prompt_color(prompt: str) -> tuple[int, int, int]:
    """A colour derived from the prompt, so tests can tell two results apart."""
    digest = hashlib.sha256(prompt.encode()).digest()
    return digest[0], digest[1], digest[2]


# ---------------------------------------------------------------------------------------------
# The server
# ---------------------------------------------------------------------------------------------


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
        self.inpaint_fetches: list[tuple[str, int | None, int]] = []
        self.default = Behaviour.OK
        self.default_retry_after: float | None = None  # Retry-After when the default is RATE_LIMITED
        self.latency = 0.0
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
            return _gateway_error(404, "Resource not found")
        if request.method != "POST":
            return _gateway_error(405, "Method not allowed", {"Allow": "POST"})
        key = request.headers.get("Ocp-Apim-Subscription-Key")
        if not key:
            return _gateway_error(401, _MISSING_KEY)
        if key != self.api_key:
            return _gateway_error(403, _WRONG_KEY)
        call.raw = await request.read()
        try:
            body, source = await self._accept(request, spec, call)
        except BadRequest as exc:
            return _json_response(400, {"error": str(exc)})
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
        source = await self._fetch_inputs(body) if spec.inpainting else None
        return body, source

    # -- inpainting inputs ----------------------------------------------------------------------

    async def _fetch_inputs(self, body: dict[str, Any]) -> tuple[int, int] | None:
        """Fetch imageUrl then maskUrl like the real service; the image's size, if one was given."""
        size = None
        for name in ("imageUrl", "maskUrl"):
            if name in body:
                data = await self._fetch_input(name, body[name])
                if name == "imageUrl":
                    size = image_size(data)
        return size

    async def _fetch_input(self, name: str, url: str) -> bytes:
        assert self._session is not None, "start() first"
        status: int | None = None
        data = b""
        try:
            async with self._session.get(url) as resp:
                status = resp.status
                data = await self._read_limited(resp)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            self.inpaint_fetches.append((url, status, len(data)))
            raise BadRequest(f"{name} could not be fetched ({type(exc).__name__}: {exc}): {url}") from None
        self.inpaint_fetches.append((url, status, len(data)))
        if status != 200:
            raise BadRequest(f"{name} could not be fetched (HTTP {status}): {url}")
        if not is_image(data):
            raise BadRequest(f"{name} is not an image: {url}")
        return data

    @staticmethod
    async def _read_limited(resp: aiohttp.ClientResponse) -> bytes:
        chunks: list[bytes] = []
        total = 0
        async for chunk in resp.content.iter_chunked(64 * 1024):
            total += len(chunk)
            if total > FETCH_LIMIT:
                raise ValueError(f"larger than {FETCH_LIMIT} bytes")
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
            return _echo_key(call.headers)
        if behaviour is Behaviour.BAD_REQUEST:
            return _json_response(400, {"error": self.bad_request_message})
        simple = self._simple_error(behaviour, retry_after)
        if simple is not None:
            return simple
        if behaviour in _IMAGE_BEHAVIOURS:
            return self._success(spec, body, source, call, raw=behaviour is Behaviour.RAW_BYTES, behaviour=behaviour)
        return self._odd_success(behaviour, spec)

    @staticmethod
    def _simple_error(behaviour: Behaviour, retry_after: float | None) -> web.Response | None:
        if behaviour is Behaviour.RATE_LIMITED:
            headers = {"Retry-After": _retry_after_value(retry_after)} if retry_after is not None else None
            return _gateway_error(429, "Rate limit is exceeded. Try again later.", headers)
        errors = {
            Behaviour.SERVER_ERROR: (500, "Internal server error"),
            Behaviour.BAD_GATEWAY: (502, "Bad gateway"),
            Behaviour.FORBIDDEN: (403, _WRONG_KEY),
            Behaviour.UNAUTHORIZED: (401, _MISSING_KEY),
            Behaviour.NOT_FOUND: (404, "Resource not found"),
        }
        if behaviour in errors:
            return _gateway_error(*errors[behaviour])
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
        return _json_response(200, _result(spec, self._answer_url(behaviour, url)))

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
            return _json_response(200, {"foo": 1})
        if behaviour is Behaviour.NOT_SUCCEEDED and spec.result == "prediction":
            return _json_response(200, {"id": _prediction_id(), "status": "failed", "output": None})
        if behaviour is Behaviour.LONG_STATUS and spec.result == "prediction":
            # A status no document describes: long, with markup and mentions, echoing the key.
            status = (f"failed for key {self.api_key}: " + "**boom** @everyone <@123> https://x.example " * 100)
            return _json_response(200, {"id": _prediction_id(), "status": status[: self.long_status_chars],
                                        "output": None})
        if behaviour in (Behaviour.EMPTY_URL, Behaviour.NOT_SUCCEEDED, Behaviour.LONG_STATUS):
            return _json_response(200, _result(spec, ""))
        if behaviour is Behaviour.IMAGE_404:
            return _json_response(200, _result(spec, self._new_url("png")))  # never registered
        if behaviour is Behaviour.OVERSIZED:
            url = self._new_url("png")
            self._oversized_urls.add(url)
            return _json_response(200, _result(spec, url))
        if behaviour is Behaviour.NOT_AN_IMAGE:
            url = self._new_url("png")
            self._html_urls.add(url)
            return _json_response(200, _result(spec, url))
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

    async def _serve_image(self, request: web.Request) -> web.StreamResponse:
        url = f"{self.base_url}{request.path}"
        self.image_fetches.append(url)
        if url in self.images:
            fmt = image_format_from_url(url)
            return web.Response(body=self.images[url], content_type=CONTENT_TYPES[fmt])
        if url in self._html_urls:
            return web.Response(text="<html><body>Not an image</body></html>", content_type="text/html")
        if url in self._oversized_urls:
            return await self._stream_oversized(request)
        return _gateway_error(404, "Resource not found")

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


def _echo_key(headers: dict[str, str]) -> web.Response:
    key = headers.get("Ocp-Apim-Subscription-Key", "")
    return _json_response(400, {"statusCode": 400, "message": (
        f"Request rejected: header Ocp-Apim-Subscription-Key={key} is not valid for this **operation**; "
        "see https://gateway.example/docs @everyone <@123>")})


def _result(spec: EndpointSpec, url: str) -> dict[str, Any]:
    if spec.result == "output":
        return {"output": url}
    if spec.result == "prediction":
        return {"id": _prediction_id(), "status": "succeeded", "output": url}
    return {"imageUrl": url}


def _prediction_id() -> str:
    return uuid.uuid4().hex[:26]  # the document's example id is 26 lowercase characters


def _retry_after_value(seconds: float) -> str:
    # HTTP wants whole seconds; fractions are kept so tests can use tiny waits.
    return str(int(seconds)) if float(seconds).is_integer() else str(seconds)


def image_format_from_url(url: str) -> str:
    return pillow_format(url.rsplit(".", 1)[-1])


__all__ = [
    "ENDPOINTS",
    "Behaviour",
    "EndpointSpec",
    "FakePixazo",
    "FieldSpec",
    "RecordedCall",
    "validate",
]
