"""The Pixazo client: one request path for every endpoint, typed errors, bounded retries."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import logging
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import aiohttp
import yarl
from pydantic import SecretStr

from bot.catalog import Model
from bot.core.imaging import sniff
from bot.core.metrics import Metrics
from bot.core.offload import Offload, OffloadTimeout
from bot.core.redact import Redactor
from bot.pixazo.errors import (
    PixazoAuthError,
    PixazoBadResponse,
    PixazoBusy,
    PixazoError,
    PixazoGenerationFailed,
    PixazoNotFound,
    PixazoRejected,
    PixazoServerError,
    PixazoTimeout,
    PixazoUnavailable,
    Problem,
)
from bot.pixazo.public_hosts import BlockedAddress, is_public_address, result_session
from bot.pixazo.retry import RetryPolicy, retry_after
from bot.pixazo.verify import TooLargeToCheck, UndecodableImage, decode_fully

log = logging.getLogger(__name__)
T = TypeVar("T")

# A JSON answer is a URL and a few words; anything bigger is not what the document describes.
_MAX_JSON_BYTES = 256 * 1024
_ERROR_BODY_BYTES = 16 * 1024
# Outside text kept in an error: the reason and status as read (errors.py shortens what members see),
# and the operator's detail, which is also the job's stored error.
_REASON_MAX = 300
_DETAIL_MAX = 600
# A CDN may redirect once or twice; a chain longer than this is not an image host behaving normally.
MAX_REDIRECTS = 3
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


@dataclass(frozen=True)
class GeneratedImage:
    data: bytes
    format: str  # png, jpeg, webp, gif
    url: str | None  # where Pixazo put it, when it gave a URL
    attempts: int


def _waited(exc: PixazoError, started: float, tries: int) -> PixazoError:
    """A timeout after several tries is how long was waited in all, not one try's limit."""
    if isinstance(exc, PixazoTimeout) and tries > 1:
        return PixazoTimeout(time.monotonic() - started, tries=tries, detail=exc.detail)
    return exc


class PixazoClient:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        base_url: str,
        api_key: SecretStr,
        timeout: float,
        max_concurrency: int | None,
        max_image_bytes: int,
        require_https_results: bool = True,
        allow_private_result_hosts: bool = False,
        retry: RetryPolicy | None = None,
        offload: Offload | None = None,
        redactor: Redactor | None = None,
        decode_timeout: float = 20.0,
        result_ssl: ssl.SSLContext | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        """`session` carries the API calls; result images go through a session of the client's own,
        whose resolver refuses non-public addresses (see public_hosts.py). `close()` closes that one."""
        self._session = session
        self._base = base_url.rstrip("/")
        self._key = api_key
        self._timeout = timeout
        # None: the job queue (bot/services/queue.py) already bounds the calls in flight.
        self._slots: contextlib.AbstractAsyncContextManager[Any] = (
            asyncio.Semaphore(max_concurrency) if max_concurrency else contextlib.nullcontext())
        self._max_image_bytes = max_image_bytes
        self._require_https = require_https_results
        self._allow_private = allow_private_result_hosts
        self._retry = retry or RetryPolicy()
        self._offload = offload or Offload(2, name="pixazo-image")
        self._redactor = redactor or Redactor([api_key.get_secret_value()])
        self._decode_timeout = decode_timeout
        self._result_ssl = result_ssl
        self._results: aiohttp.ClientSession | None = None
        self._metrics = metrics or Metrics()

    async def close(self) -> None:
        if self._results is not None:
            await self._results.close()
            self._results = None

    def _results_session(self) -> aiohttp.ClientSession:
        # Made on first use, inside the running loop, as aiohttp requires.
        if self._results is None:
            self._results = result_session(allow_private=self._allow_private, ssl_context=self._result_ssl)
        return self._results

    def _clean(self, text: object, limit: int = _DETAIL_MAX) -> str:
        """Outside text made safe to log, store and show: secrets removed first, then capped.

        Twice: `external` drops control characters after redacting, so a secret spelt with zero-width
        characters inside it would come out whole from the first pass; the second removes it.
        """
        return self._redactor.external(self._redactor.external(text, 2**31), limit)

    async def generate(self, model: Model, payload: dict[str, Any], *, use_stream: bool,
                       on_start: Callable[[], Awaitable[None]] | None = None,
                       on_answer: Callable[[], None] | None = None) -> GeneratedImage:
        """`on_start` is awaited once, when the first attempt gets one of the PIXAZO_MAX_CONCURRENCY slots;
        `on_answer` is called once Pixazo answered with an image or its link, before it is fetched and checked."""
        path = model.path_for(use_stream)
        attempts = 0
        started = time.monotonic()

        async def call() -> GeneratedImage | str:
            nonlocal attempts, on_start
            attempts += 1
            hook, on_start = on_start, None
            return await self._post(model, path, payload, hook)

        answer = await self._with_retries(call, started, what=path, model=model.key, step="generate")
        if on_answer is not None:
            on_answer()
        if isinstance(answer, GeneratedImage):
            await self._check_decodes(answer.data, f"POST {path}")
            return GeneratedImage(answer.data, answer.format, None, attempts)
        data, fmt = await self._with_retries(lambda: self._fetch_image(answer), started, what="result image",
                                             model=model.key, step="result")
        await self._check_decodes(data, "result image")
        # The URL is stored with the job and may be shown as a link; one that carries a secret is neither.
        url = answer if self._redactor.redact(answer) == answer else None
        return GeneratedImage(data, fmt, url, attempts)

    async def _check_decodes(self, data: bytes, where: str) -> None:
        """A result is only delivered (and charged) if every pixel of it decodes: a truncated file is a failure."""
        try:
            await self._offload.run(decode_fully, data, timeout=self._decode_timeout)
        except TooLargeToCheck as exc:
            raise PixazoBadResponse(Problem.FAR_TOO_LARGE, detail=self._clean(f"{where}: {len(data)} bytes: {exc}")) from None
        except UndecodableImage as exc:
            raise PixazoBadResponse(Problem.DAMAGED,
                                    detail=self._clean(f"{where}: {len(data)} bytes do not decode: {exc}")) from None
        except OffloadTimeout as exc:
            raise PixazoBadResponse(Problem.NOT_CHECKED_IN_TIME,
                                    detail=self._clean(f"{where}: decoding {len(data)} bytes: {exc}")) from None

    async def _with_retries(self, call: Callable[[], Awaitable[T]], started: float, *, what: str, model: str,
                            step: str) -> T:
        """`step`: generate or result, as /metrics counts each try and each retry."""
        attempt = 0
        while True:
            attempt += 1
            try:
                answer = await call()
            except PixazoError as exc:
                self._metrics.pixazo_call(model, step, exc.kind)
                if not exc.retryable or attempt >= self._retry.attempts:
                    raise _waited(exc, started, attempt) from exc.__cause__
                delay = self._retry.delay(attempt, getattr(exc, "retry_after", None))
                left = self._retry.total_seconds - (time.monotonic() - started)
                if delay >= left:
                    log.warning("pixazo %s: %s; not retrying, %.1fs wait exceeds the %.1fs left",
                                what, exc.detail, delay, left)
                    raise _waited(exc, started, attempt) from exc.__cause__
                log.warning("pixazo %s: %s; retry %d/%d in %.2fs", what, exc.detail, attempt,
                            self._retry.attempts - 1, delay)
                self._metrics.pixazo_retry(model, step)
                await self._retry.sleep(delay)
            else:
                self._metrics.pixazo_call(model, step, "ok")
                return answer

    def _headers(self) -> dict[str, str]:
        return {
            "Content-Type": "application/json",
            "Cache-Control": "no-cache",
            "Ocp-Apim-Subscription-Key": self._key.get_secret_value(),
        }

    async def _post(self, model: Model, path: str, payload: dict[str, Any],
                    on_slot: Callable[[], Awaitable[None]] | None) -> GeneratedImage | str:
        timeout = aiohttp.ClientTimeout(total=self._timeout)
        async with self._slots:
            if on_slot is not None:
                await on_slot()
            try:
                async with self._session.post(self._base + path, data=json.dumps(payload),
                                              headers=self._headers(), timeout=timeout) as resp:
                    if resp.status != 200:
                        raise await self._status_error(resp, f"POST {path}")
                    if resp.content_type.startswith("image/"):
                        data, fmt = await self._read_image(resp, f"POST {path}")
                        return GeneratedImage(data, fmt, None, 1)
                    body = await _read_capped(resp, _MAX_JSON_BYTES)
            except TimeoutError as exc:
                raise PixazoTimeout(self._timeout, detail=f"POST {path}: no answer within {self._timeout}s") from exc
            except aiohttp.ClientError as exc:
                raise PixazoUnavailable(detail=self._clean(f"POST {path}: {type(exc).__name__}: {exc}")) from exc
        return self._url_from_answer(model, path, body)

    async def _fetch_image(self, url: str) -> tuple[bytes, str]:
        """GET the result, following redirects by hand so every hop meets the scheme and address rules."""
        shown = self._clean(url, 300)
        try:
            target = self._openable(yarl.URL(url), shown)
            async with asyncio.timeout(self._timeout):
                for _ in range(MAX_REDIRECTS + 1):
                    where = f"GET {self._clean(target, 300)}"
                    async with self._results_session().get(target, allow_redirects=False) as resp:
                        if resp.status in _REDIRECT_STATUSES:
                            target = self._openable(target.join(yarl.URL(resp.headers.get("Location", ""))), shown)
                            continue
                        if resp.status == 429 or resp.status >= 500:
                            raise await self._status_error(resp, where)
                        if resp.status != 200:
                            raise PixazoBadResponse(Problem.LINK_FAILED, status=resp.status,
                                                    detail=f"{where} answered {resp.status}")
                        return await self._read_image(resp, where)
        except TimeoutError as exc:
            raise PixazoTimeout(self._timeout, detail=f"GET {shown}: no answer within {self._timeout}s") from exc
        except aiohttp.ClientConnectorError as exc:
            if isinstance(exc.os_error, BlockedAddress):
                raise _private_address(shown, self._clean(exc.os_error)) from None
            raise PixazoUnavailable(detail=self._clean(f"GET {shown}: {type(exc).__name__}: {exc}")) from exc
        except (aiohttp.InvalidURL, ValueError) as exc:
            raise PixazoBadResponse(Problem.UNREADABLE_ADDRESS,
                                    detail=self._clean(f"GET {shown}: {type(exc).__name__}: {exc}")) from None
        except aiohttp.ClientError as exc:
            raise PixazoUnavailable(detail=self._clean(f"GET {shown}: {type(exc).__name__}: {exc}")) from exc
        raise PixazoBadResponse(Problem.TOO_MANY_REDIRECTS,
                                detail=f"GET {shown}: more than {MAX_REDIRECTS} redirects")

    def _openable(self, target: yarl.URL, shown: str) -> yarl.URL:
        """`target` if the bot may connect to it; the first URL and every redirect pass here."""
        allowed = {"https"} if self._require_https else {"https", "http"}
        if target.scheme not in allowed or not target.host:
            raise PixazoBadResponse(Problem.REFUSED_ADDRESS,
                                    detail=self._clean(f"refused result URL {target} (from {shown}): scheme "
                                                       f"{target.scheme!r} not in {sorted(allowed)}"))
        # Names are checked by the result session's resolver at connect time; IP literals never reach it.
        if not self._allow_private and _is_ip(target.host) and not is_public_address(target.host):
            raise _private_address(shown, self._clean(f"{target.host} is not a public address"))
        return target

    async def _read_image(self, resp: aiohttp.ClientResponse, where: str) -> tuple[bytes, str]:
        """The body, capped and checked to be an image, with the format its first bytes announce."""
        limit = self._max_image_bytes
        if resp.content_length is not None and resp.content_length > limit:
            raise _too_large(where, resp.content_length, limit)
        data = await _read_capped(resp, limit)
        if len(data) > limit:
            raise _too_large(where, len(data), limit)
        if not data:
            raise PixazoBadResponse(Problem.EMPTY_IMAGE, detail=f"{where}: 0-byte body")
        fmt = sniff(data)
        if fmt is None:
            raise PixazoBadResponse(Problem.NOT_AN_IMAGE,
                                    detail=self._clean(f"{where}: content-type {resp.content_type}, "
                                                       f"first bytes {self._excerpt(data, 16)}"))
        return data, fmt

    def _excerpt(self, data: bytes, n: int) -> str:
        """The first `n` characters of a body, redacted before it is cut so no part of a secret survives."""
        longest = max((len(s) for s in self._redactor.secrets), default=0)
        return repr(self._redactor.redact(data[: n + longest].decode("utf-8", "replace"))[:n])

    def _url_from_answer(self, model: Model, path: str, body: bytes) -> str:
        try:
            answer = json.loads(body)
        except ValueError as exc:
            raise PixazoBadResponse(Problem.UNREADABLE_ANSWER,
                                    detail=self._clean(f"POST {path}: malformed JSON: {self._excerpt(body, 120)}")) from exc
        if not isinstance(answer, dict):
            raise PixazoBadResponse(Problem.UNREADABLE_ANSWER,
                                    detail=f"POST {path}: JSON is {type(answer).__name__}, not an object")
        if model.status_field is not None:
            status = answer.get(model.status_field)
            if status != "succeeded":
                raise PixazoGenerationFailed(
                    self._clean(status, _REASON_MAX),
                    detail=self._clean(f"POST {path}: status {status!r}, id {answer.get('id')!r}"))
        url = answer.get(model.result_field)
        if not isinstance(url, str):
            raise PixazoBadResponse(Problem.NO_IMAGE,
                                    detail=self._clean(f"POST {path}: no string {model.result_field!r} "
                                                       f"in keys {sorted(answer)[:10]}"))
        if not url.strip():
            raise PixazoBadResponse(Problem.EMPTY_RESULT,
                                    detail=f"POST {path}: empty {model.result_field!r}")
        return url.strip()

    async def _status_error(self, resp: aiohttp.ClientResponse, where: str) -> PixazoError:
        """`where` must already be clean (it may hold a result URL)."""
        status = resp.status
        reason = await self._reason(resp)
        detail = f"{where} answered HTTP {status}" + (f": {reason}" if reason else "")
        if status == 400:
            return PixazoRejected(reason, detail=detail)
        if status in (401, 403):
            what = "missing or invalid" if status == 401 else "not allowed for this endpoint"
            return PixazoAuthError(detail=f"{detail} (the Ocp-Apim-Subscription-Key is {what})")
        if status == 404:
            return PixazoNotFound(detail=detail)
        if status == 429:
            return PixazoBusy(detail=detail, retry_after=retry_after(resp.headers.get("Retry-After")))
        if status >= 500:
            return PixazoServerError(status, detail=detail)
        return PixazoRejected(reason or f"HTTP {status}", detail=detail)

    async def _reason(self, resp: aiohttp.ClientResponse) -> str | None:
        """The API's own explanation, if its error body has one, scrubbed and capped; the document defines no shape."""
        try:
            raw = await _read_capped(resp, _ERROR_BODY_BYTES)
        except (aiohttp.ClientError, TimeoutError):
            return None
        if len(raw) > _ERROR_BODY_BYTES:
            # Cut where no secret can be split in two: a half secret would not be recognised as one.
            longest = max((len(s) for s in self._redactor.secrets), default=0)
            raw = raw[: _ERROR_BODY_BYTES - longest]
        text = raw.decode("utf-8", "replace").strip()
        try:
            body = json.loads(text)
        except ValueError:
            body = None
        if isinstance(body, dict):
            for key in ("error", "message", "detail", "reason", "msg"):
                value = body.get(key)
                if isinstance(value, str) and value.strip():
                    return self._clean(value, _REASON_MAX) or None
            return None
        if text and not text.lstrip().startswith("<"):
            return self._clean(text, _REASON_MAX) or None
        return None


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    return True


def _private_address(shown: str, why: str) -> PixazoBadResponse:
    return PixazoBadResponse(Problem.PRIVATE_ADDRESS,
                             detail=f"refused result URL {shown}: {why} (PIXAZO_RESULT_ALLOW_PRIVATE_HOSTS is false)")


def _too_large(where: str, size: int, limit: int) -> PixazoBadResponse:
    return PixazoBadResponse(Problem.TOO_LARGE, limit=limit,
                             detail=f"{where}: {size} bytes > {limit}")


async def _read_capped(resp: aiohttp.ClientResponse, limit: int) -> bytes:
    """Read at most limit + 1 bytes, so an oversized body is noticed without holding all of it."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in resp.content.iter_chunked(64 * 1024):
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            break
    return b"".join(chunks)[: limit + 1]
