"""Inpainting inputs: check the image and mask a member attached before any credit is spent."""

from __future__ import annotations

import io
import logging
import warnings
from dataclasses import dataclass
from typing import Any

import aiohttp
from PIL import Image

from bot.catalog import SIZE_MULTIPLE, Model
from bot.errors import InvalidInput
from bot.imaging import sniff
from bot.services.validation import Prepared, prepare
from bot.text import code_span

log = logging.getLogger(__name__)

ACCEPTED = {"image/png": "png", "image/jpeg": "jpeg", "image/jpg": "jpeg", "image/webp": "webp"}
NAMES = {"png": "PNG", "jpeg": "JPEG", "webp": "WebP"}
# Pillow refuses images past twice this many pixels outright; we refuse past it at all.
MAX_PIXELS = 8192 * 8192
# Nearly black/white masks from anti-aliased brushes still count as "all black/white".
MASK_TOLERANCE = 8


@dataclass(frozen=True)
class Upload:
    """What Discord tells us about an attached file."""

    role: str  # "image" or "mask", as the user knows it
    filename: str
    url: str
    size: int
    content_type: str | None


@dataclass(frozen=True)
class Checked:
    upload: Upload
    width: int
    height: int
    format: str


def _mib(n: int) -> str:
    return f"{n / 2**20:.1f} MiB"


def _name(upload: Upload) -> str:
    return f"The {upload.role} ({code_span(upload.filename, 60)})"


def precheck(upload: Upload, *, max_bytes: int) -> str:
    """What Discord's own description of the file already rules out; returns the declared format."""
    if upload.size > max_bytes:
        raise InvalidInput(f"{_name(upload)} is {_mib(upload.size)}; the limit is {_mib(max_bytes)}.")
    declared = ACCEPTED.get((upload.content_type or "").split(";")[0].strip().lower())
    if declared is None:
        raise InvalidInput(f"{_name(upload)} is not a PNG, JPEG or WebP image (Discord says it is "
                           f"{code_span(upload.content_type, 40) if upload.content_type else 'of unknown type'}).")
    return declared


async def check_upload(session: aiohttp.ClientSession, upload: Upload, declared: str, *, max_bytes: int,
                       timeout: float) -> tuple[Checked, Image.Image]:
    """Download the file (capped) and make sure it really is the `declared` image `precheck` accepted."""
    name = _name(upload)
    data = await _download(session, upload, name, max_bytes, timeout)
    actual = sniff(data)
    if actual not in NAMES:
        raise InvalidInput(f"{name} says it is {NAMES[declared]} but its contents are not an image.")
    if actual != declared:
        raise InvalidInput(f"{name} says it is {NAMES[declared]} but its contents are {NAMES[actual]}. "
                           f"Save it as a real {NAMES[declared]}, or attach it with its own type.")
    image = _decode(data, name)
    return Checked(upload, image.width, image.height, actual), image


async def _download(session: aiohttp.ClientSession, upload: Upload, name: str, max_bytes: int,
                    timeout: float) -> bytes:
    try:
        async with session.get(upload.url, timeout=aiohttp.ClientTimeout(total=timeout)) as resp:
            if resp.status != 200:
                raise InvalidInput(f"{name} could not be downloaded from Discord (HTTP {resp.status}). "
                                   "Try attaching it again.", detail=f"GET {upload.url}: {resp.status}")
            data = bytearray()
            async for chunk in resp.content.iter_chunked(64 * 1024):
                data += chunk
                if len(data) > max_bytes:
                    raise InvalidInput(f"{name} is larger than the {_mib(max_bytes)} limit.")
            return bytes(data)
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise InvalidInput(f"{name} could not be downloaded from Discord. Try attaching it again.",
                           detail=f"GET {upload.url}: {type(exc).__name__}: {exc}") from exc


def _decode(data: bytes, name: str) -> Image.Image:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            if image.width * image.height > MAX_PIXELS:
                raise InvalidInput(f"{name} is {image.width}×{image.height}, too many pixels to work with.")
            image.load()
            return image
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise InvalidInput(f"{name} is too large to decode safely.", detail=str(exc)) from exc
    except (OSError, ValueError, SyntaxError) as exc:
        raise InvalidInput(f"{name} could not be decoded; it may be damaged.", detail=f"{name}: {exc}") from exc


def check_pair(image: Checked, mask: Checked, mask_pixels: Image.Image) -> None:
    if (image.width, image.height) != (mask.width, mask.height):
        raise InvalidInput(f"The image is {image.width}×{image.height} but the mask is {mask.width}×{mask.height}; "
                           "they must be the same size.")
    low, high = mask_pixels.convert("L").getextrema()
    if high < MASK_TOLERANCE:
        raise InvalidInput("The mask is entirely black, so nothing would change. Paint the part to repaint in white.")
    if low > 255 - MASK_TOLERANCE:
        raise InvalidInput("The mask is entirely white, so the whole image would be replaced: that is a plain "
                           "generation. Use /sdxl for that, or paint the part to keep in black.")


def fitted_size(model: Model, width: int, height: int) -> tuple[int, int]:
    """The image's size scaled to fit the model's range, in multiples of 8; refuse what cannot fit."""
    param = model.param("width")
    low, high = int(param.min), int(param.max)
    scale = min(1.0, high / max(width, height))
    scale = max(scale, low / min(width, height))
    if max(width, height) * scale > high + 0.5:
        raise InvalidInput(f"The image is {width}×{height}; /{model.key} needs both sides between {low} and {high} "
                           f"pixels after scaling, so its long side can be at most {high // low}× its short side.")
    return tuple(_snap(side * scale, low, high) for side in (width, height))  # type: ignore[return-value]


def _snap(value: float, low: int, high: int) -> int:
    snapped = int(round(value / SIZE_MULTIPLE)) * SIZE_MULTIPLE
    return max(low, min(high, snapped))


def prepare_inpaint(model: Model, options: dict[str, Any], image: Checked, mask: Checked) -> Prepared:
    options = dict(options)
    if options.get("width") is None or options.get("height") is None:
        width, height = fitted_size(model, image.width, image.height)
        options["width"] = options.get("width") or width
        options["height"] = options.get("height") or height
    prepared = prepare(model, options)
    payload = {**prepared.payload, model.image_field: image.upload.url, model.mask_field: mask.upload.url}
    return Prepared(model, prepared.prompt, payload, prepared.shown)


def ledger_inputs(*checked: Checked) -> dict[str, Any]:
    """Names and sizes of the inputs, for the ledger; never their bytes."""
    return {c.upload.role: {"filename": c.upload.filename, "bytes": c.upload.size, "width": c.width,
                            "height": c.height, "format": c.format} for c in checked}
