"""Image bytes: recognising them and making them fit Discord's upload limit."""

from __future__ import annotations

import contextlib
import io
import logging
import math
import os
import tempfile
import threading
from dataclasses import dataclass
from typing import IO, Any

from PIL import Image, ImageOps

from bot.catalog import RESULT_MAX_PIXELS
from bot.core.offload import Offload, OffloadTimeout

log = logging.getLogger(__name__)

# Magic numbers of the formats Pixazo and Discord users send; the content type alone can lie.
_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"\xff\xd8\xff", "jpeg"),
    (b"GIF87a", "gif"),
    (b"GIF89a", "gif"),
)
EXTENSIONS = {"png": "png", "jpeg": "jpg", "webp": "webp", "gif": "gif"}


def encoded(image: Image.Image, fmt: str, **params: Any) -> bytes:
    """`image` saved as `fmt`, through a file in memory rather than a BytesIO: Pillow encodes into a file
    descriptor with the GIL released, and into a BytesIO holding it for the whole encode (milliseconds to
    hundreds of them, while the other image threads and the event loop wait)."""
    with _memory_file() as out:
        image.save(out, fmt, **params)
        out.seek(0)
        return out.read()


def _memory_file() -> IO[bytes]:
    """A read-write file that lives in memory only (Linux's memfd; elsewhere a temporary file, gone once closed)."""
    if hasattr(os, "memfd_create"):
        return open(os.memfd_create("image", os.MFD_CLOEXEC), "w+b")  # the caller closes it
    return tempfile.TemporaryFile()  # the caller closes it


def sniff(data: bytes) -> str | None:
    """The image format the first bytes announce, or None when they are not an image we know."""
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return next((fmt for magic, fmt in _SIGNATURES if data.startswith(magic)), None)


@dataclass(frozen=True)
class Upload:
    data: bytes
    filename: str


# RESULT_MAX_PIXELS (the catalog's): results past it never reach here, the Pixazo client refuses them
# undecoded; the check below keeps this function safe on its own.
# A result over the upload limit is first brought down to this many pixels (Pixazo's largest outputs are
# 2048 a side, and an embed shows less): encoding then takes a fraction of a second, not tens.
REENCODE_MAX_PIXELS = 2048 * 2048
# Results past this (the /inpaint input cap, 4096²) are decoded one at a time, whatever IMAGE_WORKERS is.
HUGE_PIXELS = 4096 * 4096
_HUGE_DECODES = threading.Lock()


def one_huge_decode(pixels: int) -> contextlib.AbstractContextManager[object]:
    """Held around decoding an image past HUGE_PIXELS: one such decode at a time, whoever does it
    (the result check, the re-encoder), so memory stays bounded whatever IMAGE_WORKERS is."""
    return _HUGE_DECODES if pixels > HUGE_PIXELS else contextlib.nullcontext()
# Quality first, then size: a smaller file of the full picture beats a sharper crop.
_ATTEMPTS = (("WEBP", "webp", 85), ("JPEG", "jpg", 80), ("WEBP", "webp", 70), ("JPEG", "jpg", 60))
_SCALES = (1.0, 0.7, 0.5, 0.35)


def fit_for_upload(data: bytes, fmt: str, stem: str, limit: int) -> Upload | None:
    """The image as a file no larger than `limit`, re-encoded if needed; None if it cannot be made to fit.

    Blocking and CPU-heavy past the limit: call it through `fit_off_loop`.
    """
    if len(data) <= limit:
        return Upload(data, f"{stem}.{EXTENSIONS.get(fmt, 'png')}")
    try:
        img = Image.open(io.BytesIO(data))
        pixels = img.width * img.height
        if pixels > RESULT_MAX_PIXELS:
            log.warning("not re-encoding a %d×%d %s result (over %d pixels); linking it instead",
                        img.width, img.height, fmt, RESULT_MAX_PIXELS)
            return None
        # Over the input cap, one such decode at a time: two would take most of the memory budget.
        with one_huge_decode(pixels):
            scale = min(1.0, math.sqrt(REENCODE_MAX_PIXELS / pixels))
            target = (max(1, int(img.width * scale)), max(1, int(img.height * scale)))
            img.draft("RGB", target)  # a JPEG decodes straight at a reduced scale, never below target
            img.load()
            factor = int(min(img.width / target[0], img.height / target[1]))
            if factor >= 2:
                # The only reference: the full-size pixels are freed at once.
                img = img.reduce(factor)  # type: ignore[assignment]
            if img.width * img.height > REENCODE_MAX_PIXELS:
                img.thumbnail(target)
            # Re-encoding drops EXIF, so bake its orientation in or the picture would turn sideways.
            return _reencode(ImageOps.exif_transpose(img), stem, limit)
    except (OSError, Image.DecompressionBombError, ValueError) as exc:
        log.warning("could not re-encode a %d-byte %s result: %s", len(data), fmt, exc)
        return None


def _reencode(img: Image.Image, stem: str, limit: int) -> Upload | None:
    rgb = img.convert("RGB")
    for scale in _SCALES:
        frame = rgb if scale == 1.0 else rgb.resize((max(1, int(rgb.width * scale)), max(1, int(rgb.height * scale))))
        for fmt, ext, quality in _ATTEMPTS:
            data = encoded(frame, fmt, quality=quality)
            if len(data) <= limit:
                return Upload(data, f"{stem}.{ext}")
    return None


async def fit_off_loop(offload: Offload, data: bytes, fmt: str, stem: str, limit: int, *,
                       timeout: float) -> Upload | None:
    """`fit_for_upload` on the image pool, with a deadline; past it None, and the caller links the image."""
    if len(data) <= limit:
        return fit_for_upload(data, fmt, stem, limit)  # nothing to decode
    try:
        return await offload.run(fit_for_upload, data, fmt, stem, limit, timeout=timeout)
    except OffloadTimeout as exc:
        log.warning("re-encoding a %d-byte %s result to fit %d bytes took too long (%s); linking it instead",
                    len(data), fmt, limit, exc)
        return None
