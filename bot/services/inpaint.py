"""Inpainting inputs: check the image and mask a member attached before any credit is spent."""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

import aiohttp
from PIL import ExifTags, Image

from bot.catalog import SIZE_MULTIPLE, Model
from bot.core.errors import InvalidInput, UserFacingError
from bot.core.i18n import Text, _
from bot.core.imaging import sniff
from bot.core.offload import Offload, OffloadTimeout
from bot.core.text import code_span
from bot.services.validation import Prepared, prepare

log = logging.getLogger(__name__)

ACCEPTED = {"image/png": "png", "image/jpeg": "jpeg", "image/jpg": "jpeg", "image/webp": "webp"}
NAMES = {"png": "PNG", "jpeg": "JPEG", "webp": "WebP"}
# Inpainting outputs are at most 2048 a side, so more than 4096×4096 (16.8 MP, e.g. a 12 MP phone
# photo fits) only costs memory: one decoded RGBA input at the cap is 64 MiB, and IMAGE_WORKERS of them
# at once stay far inside the bot's budget. (8192² RGBA would be 256 MiB each.)
MAX_SIDE_NAMED = 4096
MAX_PIXELS = MAX_SIDE_NAMED * MAX_SIDE_NAMED
# Nearly black/white masks from anti-aliased brushes still count as "all black/white".
MASK_TOLERANCE = 8
# Masks are checked on a copy reduced by this factor (JPEGs are decoded reduced, by libjpeg's DCT
# scaling; PNG and WebP are reduced after decoding): one white pixel in a 4×4 block still averages
# to 255/16 ≈ 16 > MASK_TOLERANCE, so the reduction never hides a painted spot.
MASK_REDUCE = 4
# EXIF orientations that turn the picture a quarter turn: displayed width and height swap.
QUARTER_TURNS = frozenset({5, 6, 7, 8})


@dataclass(frozen=True)
class Upload:
    """What Discord tells us about an attached file."""

    role: str  # "image" or "mask", as the user knows it
    filename: str
    url: str
    size: int
    content_type: str | None
    width: int | None = None  # Discord measures images itself; absent for non-images
    height: int | None = None


@dataclass(frozen=True)
class Checked:
    upload: Upload
    width: int  # as displayed: EXIF orientation applied
    height: int
    format: str
    extrema: tuple[int, int] | None = None  # masks: darkest and lightest grey
    orientation: int = 1  # the EXIF orientation tag (1 = as stored)


def _mib(n: int) -> str:
    return f"{n / 2**20:.1f} MiB"


def _name(upload: Upload) -> Text:
    if upload.role == "mask":
        return _("The mask ({file})", file=code_span(upload.filename, 60))
    return _("The image ({file})", file=code_span(upload.filename, 60))


def precheck(upload: Upload, *, max_bytes: int) -> str:
    """What Discord's own description of the file already rules out; returns the declared format."""
    if upload.size > max_bytes:
        raise InvalidInput(_("{name} is {size}; the limit is {limit}.", name=_name(upload), size=_mib(upload.size),
                             limit=_mib(max_bytes)))
    declared = ACCEPTED.get((upload.content_type or "").split(";")[0].strip().lower())
    if declared is None:
        if upload.content_type:
            raise InvalidInput(_("{name} is not a PNG, JPEG or WebP image (Discord says it is {type}).",
                                 name=_name(upload), type=code_span(upload.content_type, 40)))
        raise InvalidInput(_("{name} is not a PNG, JPEG or WebP image (Discord says it is of unknown type).",
                             name=_name(upload)))
    if upload.width and upload.height:
        _check_pixels(upload, upload.width, upload.height)  # before downloading a byte
    return declared


def _check_pixels(upload: Upload, width: int, height: int) -> None:
    if width * height > MAX_PIXELS:
        raise InvalidInput(_("{name} is {width}×{height} ({megapixels} megapixels); the limit is {side}×{side} "
                             "({most} megapixels). Scale it down and attach it again.", name=_name(upload), width=width,
                             height=height, megapixels=f"{width * height / 1e6:.1f}", side=MAX_SIDE_NAMED,
                             most=f"{MAX_PIXELS / 1e6:.1f}"))


async def check_upload(session: aiohttp.ClientSession, offload: Offload, upload: Upload, declared: str, *,
                       max_bytes: int, timeout: float, work_timeout: float) -> Checked:
    """Download the file (capped) and, on the image pool, make sure it is the `declared` image `precheck` accepted."""
    name = _name(upload)
    data = await _download(session, upload, name, max_bytes, timeout)
    try:
        return await offload.run(inspect, data, upload, declared, timeout=work_timeout)
    except OffloadTimeout as exc:
        raise InvalidInput(_("{name} took too long to check, so nothing was spent. Try a smaller file, or try again "
                             "in a minute.", name=name), detail=f"{name}: {exc}") from None


async def download(session: aiohttp.ClientSession, upload: Upload, *, max_bytes: int, timeout: float) -> bytes:
    """The file's bytes from Discord, capped at `max_bytes`; the member's sentence when that fails."""
    return await _download(session, upload, _name(upload), max_bytes, timeout)


async def _download(session: aiohttp.ClientSession, upload: Upload, name: Text, max_bytes: int,
                    timeout: float) -> bytes:
    try:
        async with session.get(upload.url, timeout=aiohttp.ClientTimeout(total=timeout)) as resp:
            if resp.status != 200:
                raise InvalidInput(_("{name} could not be downloaded from Discord (HTTP {status}). Try attaching it "
                                     "again.", name=name, status=resp.status), detail=f"GET {upload.url}: {resp.status}")
            data = bytearray()
            async for chunk in resp.content.iter_chunked(64 * 1024):
                data += chunk
                if len(data) > max_bytes:
                    raise InvalidInput(_("{name} is larger than the {limit} limit.", name=name, limit=_mib(max_bytes)))
            return bytes(data)
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise InvalidInput(_("{name} could not be downloaded from Discord. Try attaching it again.", name=name),
                           detail=f"GET {upload.url}: {type(exc).__name__}: {exc}") from exc


def inspect(data: bytes, upload: Upload, declared: str,
            decoded: Callable[[Image.Image], object] | None = None) -> Checked:
    """Blocking: format, size as displayed and (for masks) grey range. Runs on the image pool only.

    Memory is bounded by MAX_PIXELS: the size is read from the header and refused before any pixel
    is decoded; JPEGs are decoded at a quarter scale in grey, since no check needs more, unless
    `decoded` wants the picture itself: it is then handed the whole decoded image, last, to keep (leaving
    the `with` closes only the file it was read from) or change in place.
    """
    name = _name(upload)
    actual = sniff(data)
    if actual not in NAMES:
        raise InvalidInput(_("{name} says it is {format} but its contents are not an image.", name=name,
                             format=NAMES[declared]))
    if actual != declared:
        raise InvalidInput(_("{name} says it is {format} but its contents are {actual}. Save it as a real {format}, "
                             "or attach it with its own type.", name=name, format=NAMES[declared],
                             actual=NAMES[actual]))
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            _check_pixels(upload, width, height)
            if image.format == "JPEG" and decoded is None:
                image.draft("L", (-(-width // MASK_REDUCE), -(-height // MASK_REDUCE)))
            image.load()  # a truncated or damaged file fails here, not at Pixazo
            orientation = int(image.getexif().get(ExifTags.Base.Orientation, 1) or 1)
            extrema = _grey_range(image, width) if upload.role == "mask" else None
            if decoded is not None:
                decoded(image)
    except Image.DecompressionBombError as exc:
        raise InvalidInput(_("{name} is too large to decode safely.", name=name), detail=str(exc)) from exc
    except (OSError, ValueError, SyntaxError) as exc:
        raise InvalidInput(_("{name} could not be decoded; it may be damaged.", name=name),
                           detail=f"{name}: {exc}") from exc
    if orientation in QUARTER_TURNS:
        width, height = height, width
    return Checked(upload, width, height, actual, extrema, orientation)


def _grey_range(image: Image.Image, full_width: int) -> tuple[int, int]:
    """(darkest, lightest) grey of `image`, reduced so that no more than MASK_REDUCE² pixels are averaged."""
    already = max(1, full_width // max(1, image.width))  # a JPEG draft decodes at 1/2, 1/4...
    factor = max(1, MASK_REDUCE // already)
    if image.mode not in ("L", "LA", "RGB", "RGBA", "RGBX"):
        image = image.convert("L")
    if factor > 1:
        image = image.reduce(factor)
    low, high = cast(tuple[int, int], image.convert("L").getextrema())  # one band: (min, max)
    return int(low), int(high)


def check_pair(image: Checked, mask: Checked) -> None:
    """Sizes are compared as displayed, so a mask drawn over an EXIF-rotated photo matches it."""
    if (image.width, image.height) != (mask.width, mask.height):
        raise InvalidInput(_("The image is {width}×{height} but the mask is {mask_width}×{mask_height}; they must be "
                             "the same size.", width=image.width, height=image.height, mask_width=mask.width,
                             mask_height=mask.height))
    assert mask.extrema is not None, "inspect() measures every mask"
    check_mask_range(mask.extrema, all_white=_("The mask is entirely white, so the whole image would be replaced: "
                                               "that is a plain generation. Use /sdxl for that, or paint the part to "
                                               "keep in black."))


def check_mask_range(extrema: tuple[int, int], *, all_white: Text) -> None:
    """A mask that repaints nothing is refused; one that repaints everything with `all_white`'s sentence."""
    low, high = extrema
    if high < MASK_TOLERANCE:
        raise InvalidInput(_("The mask is entirely black, so nothing would change. Paint the part to repaint in "
                             "white."))
    if low > 255 - MASK_TOLERANCE:
        raise InvalidInput(all_white)


def fitted_size(model: Model, width: int, height: int) -> tuple[int, int]:
    """The image's size scaled to fit the model's range, in multiples of 8; refuse what cannot fit."""
    low, high = side_range(model, "width")
    scale = min(1.0, high / max(width, height))
    scale = max(scale, low / min(width, height))
    if max(width, height) * scale > high + 0.5:
        raise InvalidInput(_("The image is {width}×{height}; /{command} needs both sides between {low} and {high} "
                             "pixels after scaling, so its long side can be at most {ratio}× its short side.",
                             width=width, height=height, command=model.key, low=low, high=high, ratio=high // low))
    return tuple(_snap(side * scale, low, high) for side in (width, height))  # type: ignore[return-value]


def requested_size(model: Model, width: int | None, height: int | None, image_width: int,
                   image_height: int) -> tuple[int, int]:
    """Sides the member gave win; a side left out keeps the image's shape (as displayed), snapped into range."""
    if width is None and height is None:
        return fitted_size(model, image_width, image_height)
    if height is None:
        assert width is not None
        height = _snap(width * image_height / image_width, *side_range(model, "height"))
    elif width is None:
        width = _snap(height * image_width / image_height, *side_range(model, "width"))
    return width, height


def side_range(model: Model, option: str) -> tuple[int, int]:
    """The catalog's bounds for a side; every inpainting model has both."""
    param = model.param(option)
    if param is None or param.min is None or param.max is None:
        raise ValueError(f"/{model.key} has no bounded {option} in the catalog")
    return int(param.min), int(param.max)


def _snap(value: float, low: int, high: int) -> int:
    snapped = int(round(value / SIZE_MULTIPLE)) * SIZE_MULTIPLE
    return max(low, min(high, snapped))


def prepare_inpaint(model: Model, options: dict[str, Any], image: Checked, mask: Checked) -> Prepared:
    options = dict(options)
    options["width"], options["height"] = requested_size(model, options.get("width"), options.get("height"),
                                                         image.width, image.height)
    prepared = prepare(model, options)
    assert model.image_field and model.mask_field, "an inpainting model names its image and mask fields"
    payload: dict[str, Any] = {**prepared.payload, model.image_field: image.upload.url,
                               model.mask_field: mask.upload.url}
    return Prepared(model, prepared.prompt, payload, prepared.shown)


def ledger_inputs(*checked: Checked) -> dict[str, Any]:
    """Names and sizes (as displayed) of the inputs, for the ledger; never their bytes.

    A rotated original is flagged: Pixazo fetches the stored bytes, so it may see the picture sideways.
    """
    return {c.upload.role: {"filename": c.upload.filename, "bytes": c.upload.size, "width": c.width,
                            "height": c.height, "format": c.format,
                            **({"exif_orientation": c.orientation} if c.orientation != 1 else {})}
            for c in checked}


INPAINT_GONE = _("Discord no longer serves the original image or mask, so nothing was spent; run /inpaint again "
                 "with them attached.")


class Inpainter:
    """The attached image and mask checked before any credit is spent: what Discord says of them first,
    then (once the member is known to be able to pay) downloaded and decoded off the event loop."""

    def __init__(self, settings: Any, session: aiohttp.ClientSession, offload: Offload, quotas: Any) -> None:
        self._settings = settings
        self._session = session
        self._offload = offload
        self._quotas = quotas

    def precheck(self, uploads: tuple[Upload, ...]) -> list[str]:
        return [precheck(upload, max_bytes=self._settings.inpaint_max_file_bytes) for upload in uploads]

    async def _check(self, upload: Upload, declared: str) -> Checked:
        settings = self._settings
        return await check_upload(self._session, self._offload, upload, declared,
                                  max_bytes=settings.inpaint_max_file_bytes, timeout=settings.pixazo_timeout_seconds,
                                  work_timeout=settings.image_work_timeout_seconds)

    async def check(self, member: Any, model_key: str, uploads: tuple[Upload, ...], declared: list[str], *,
                    pending: int) -> tuple[Checked, Checked]:
        """A member who could not pay, or has enough going already, makes the bot download nothing."""
        await self._quotas.precheck(member, model_key, pending=pending)
        image, mask = await asyncio.gather(*(self._check(u, d) for u, d in zip(uploads, declared, strict=True)))
        check_pair(image, mask)
        return image, mask

    async def check_again(self, member: Any, model_key: str, uploads: list[tuple[Upload, str]], note: str
                          ) -> tuple[Checked, Checked]:
        """A Reroll or Edit of an /inpaint job: its original attachments, checked again as /inpaint checks
        them, while Discord serves them."""
        await self._quotas.precheck(member, model_key, pending=0)
        try:
            image, mask = [await self._check(upload, fmt) for upload, fmt in uploads]
        except InvalidInput as exc:
            raise UserFacingError(INPAINT_GONE, detail=f"{note}: the inputs are gone: {exc.detail}") from None
        check_pair(image, mask)
        return image, mask
