"""Image bytes: recognising them and making them fit Discord's upload limit."""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass

from PIL import Image

log = logging.getLogger(__name__)

# Magic numbers of the formats Pixazo and Discord users send; the content type alone can lie.
_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"\xff\xd8\xff", "jpeg"),
    (b"GIF87a", "gif"),
    (b"GIF89a", "gif"),
)
EXTENSIONS = {"png": "png", "jpeg": "jpg", "webp": "webp", "gif": "gif"}


def sniff(data: bytes) -> str | None:
    """The image format the first bytes announce, or None when they are not an image we know."""
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return next((fmt for magic, fmt in _SIGNATURES if data.startswith(magic)), None)


@dataclass(frozen=True)
class Upload:
    data: bytes
    filename: str


def fit_for_upload(data: bytes, fmt: str, stem: str, limit: int) -> Upload | None:
    """The image as a file no larger than `limit`, re-encoded if needed; None if it cannot be made to fit."""
    if len(data) <= limit:
        return Upload(data, f"{stem}.{EXTENSIONS.get(fmt, 'png')}")
    try:
        with Image.open(io.BytesIO(data)) as img:
            img.load()
            return _reencode(img, stem, limit)
    except (OSError, Image.DecompressionBombError, ValueError) as exc:
        log.warning("could not re-encode a %d-byte %s result: %s", len(data), fmt, exc)
        return None


def _reencode(img: Image.Image, stem: str, limit: int) -> Upload | None:
    rgb = img.convert("RGB")
    # Quality first, then size: a smaller file of the full picture beats a sharper crop.
    for scale in (1.0, 0.75, 0.5, 0.35):
        frame = rgb if scale == 1.0 else rgb.resize((max(1, int(rgb.width * scale)), max(1, int(rgb.height * scale))))
        for fmt, ext, quality in (("WEBP", "webp", 90), ("WEBP", "webp", 75), ("JPEG", "jpg", 80), ("JPEG", "jpg", 60)):
            buf = io.BytesIO()
            frame.save(buf, fmt, quality=quality)
            if buf.tell() <= limit:
                return Upload(buf.getvalue(), f"{stem}.{ext}")
    return None
