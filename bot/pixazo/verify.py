"""Is a result image whole? Decoding every pixel is the only test: a PNG cut in half still has a
valid header, and Discord would show it as a grey half-picture the member paid for.

Blocking; run it through `Offload`, whose pool bounds how many decodes (and so how much memory) run
at once.
"""

from __future__ import annotations

import io
import warnings

from PIL import Image, ImageFile

from bot.catalog import RESULT_MAX_PIXELS
from bot.core.imaging import one_huge_decode

# Animated results are not something the API document describes; checking a few frames is enough.
MAX_FRAMES = 64


class UndecodableImage(Exception):
    """The bytes are not a complete image the bot can show."""


class TooLargeToCheck(UndecodableImage):
    """More pixels than RESULT_MAX_PIXELS: never decoded, so never delivered."""


def decode_fully(data: bytes) -> tuple[int, int]:
    """The image's size once every frame's pixels decoded; `UndecodableImage` otherwise."""
    if ImageFile.LOAD_TRUNCATED_IMAGES:
        # A process-wide Pillow switch; with it on, a truncated file would decode "successfully".
        raise UndecodableImage("PIL.ImageFile.LOAD_TRUNCATED_IMAGES is on; results cannot be checked")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                width, height = img.size
                if width * height > RESULT_MAX_PIXELS:
                    raise TooLargeToCheck(f"{width}×{height} is more than {RESULT_MAX_PIXELS} pixels")
                if img.format == "JPEG":
                    # libjpeg scales while decoding: every byte is still read and checked, in 1/64 the memory.
                    img.draft(img.mode, (max(1, width // 8), max(1, height // 8)))
                with one_huge_decode(width * height):
                    for frame in range(min(getattr(img, "n_frames", 1), MAX_FRAMES)):
                        img.seek(frame)
                        img.load()
                png = img.format == "PNG"
            if png:
                # Pixels can all be there with the rest cut off; verify() walks every chunk and its checksum.
                with Image.open(io.BytesIO(data)) as again:
                    again.verify()
        return width, height
    except UndecodableImage:
        raise
    except Exception as exc:  # noqa: BLE001 - any decoder failure on outside bytes means "not usable"
        raise UndecodableImage(f"{type(exc).__name__}: {exc}") from None
