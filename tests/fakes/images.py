"""Small, real images for tests.

Tests check real decoding, formats and sizes, so every helper here returns bytes that Pillow (and
therefore any image library the bot uses) can open. Images are tiny so tests stay fast.
"""

from __future__ import annotations

import io

from PIL import Image

Color = tuple[int, int, int]

DEFAULT_COLOR: Color = (200, 120, 40)

# Pillow format names for the spellings an API might use for the same format.
_FORMAT_ALIASES = {"png": "PNG", "jpg": "JPEG", "jpeg": "JPEG", "webp": "WEBP"}

CONTENT_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}


def pillow_format(name: str) -> str:
    """'jpg' / 'jpeg' / 'JPEG' -> 'JPEG', and so on; raises KeyError for a format we never produce."""
    return _FORMAT_ALIASES[name.lower()]


def encode(image: Image.Image, fmt: str, quality: int | None = None) -> bytes:
    """Encode a Pillow image; `fmt` may be an API spelling ('jpg') or a Pillow name ('JPEG')."""
    fmt = pillow_format(fmt)
    options: dict[str, object] = {}
    if fmt in ("JPEG", "WEBP") and quality is not None:
        # Pillow's quality scale is 0-100 for both; the APIs' scales are the same.
        options["quality"] = max(0, min(100, int(quality)))
    if fmt == "JPEG" and image.mode not in ("RGB", "L"):
        image = image.convert("RGB")
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def _solid(width: int, height: int, color: Color) -> Image.Image:
    return Image.new("RGB", (width, height), color)


def gradient(width: int, height: int, color: Color) -> Image.Image:
    """A left-to-right fade from `color` to a darker shade.

    Used for generated results: not a flat colour, so a re-encode or a crop shows up in the bytes,
    yet the dominant colour still identifies the prompt.
    """
    # One row computed pixel by pixel, then stretched vertically: fast even for 512 px sides.
    row = Image.new("RGB", (width, 1))
    row.putdata([tuple(int(c * (1.0 - 0.5 * x / max(1, width - 1))) for c in color) for x in range(width)])
    return row.resize((width, height), Image.Resampling.NEAREST)


def make_png(width: int, height: int, color: Color = DEFAULT_COLOR) -> bytes:
    return encode(_solid(width, height, color), "PNG")


def make_jpeg(width: int, height: int, color: Color = DEFAULT_COLOR, quality: int = 90) -> bytes:
    return encode(_solid(width, height, color), "JPEG", quality)


def make_webp(width: int, height: int, color: Color = DEFAULT_COLOR, quality: int = 90) -> bytes:
    return encode(_solid(width, height, color), "WEBP", quality)


def make_mask(width: int, height: int, kind: str = "half") -> bytes:
    """An L-mode PNG mask; by the inpainting convention white = repaint, black = keep.

    kind: "half" (left half white, right half black), "black" (keep everything),
    "white" (repaint everything).
    """
    if kind == "black":
        return encode(Image.new("L", (width, height), 0), "PNG")
    if kind == "white":
        return encode(Image.new("L", (width, height), 255), "PNG")
    if kind == "half":
        mask = Image.new("L", (width, height), 0)
        mask.paste(255, (0, 0, width // 2, height))
        return encode(mask, "PNG")
    raise ValueError(f"unknown mask kind {kind!r}: use 'half', 'black' or 'white'")


def _open(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data))


def image_size(data: bytes) -> tuple[int, int]:
    """(width, height) of encoded image bytes; raises PIL.UnidentifiedImageError if not an image."""
    with _open(data) as image:
        return image.size


def image_format(data: bytes) -> str:
    """Pillow's format name for encoded bytes: "PNG", "JPEG", "WEBP", ..."""
    with _open(data) as image:
        return image.format or ""


def image_mode(data: bytes) -> str:
    """Pillow's mode ("RGB", "L", ...): masks are "L"."""
    with _open(data) as image:
        return image.mode


def is_image(data: bytes) -> bool:
    """True when Pillow can identify and fully decode the bytes."""
    try:
        with _open(data) as image:
            image.load()
        return True
    except Exception:  # Pillow raises several unrelated types for garbage input.
        return False


def make_big_png(width: int, height: int, mode: str = "RGBA", kind: str = "image") -> bytes:
    """A large but mostly flat PNG (8192×8192 RGBA is ~0.3 MB): cheap to send, costly to decode.

    kind "image": two flat colours; kind "mask": the top-left third white, the rest black; "black": all black.
    """
    if kind == "black":
        image = Image.new(mode, (width, height), 0 if mode == "L" else (0, 0, 0, 255)[: len(mode)])
    elif kind == "mask":
        image = Image.new(mode, (width, height), 0 if mode == "L" else (0, 0, 0, 255)[: len(mode)])
        image.paste(255 if mode == "L" else (255,) * len(mode), (0, 0, width // 2, height // 3))
    else:
        image = Image.new(mode, (width, height), DEFAULT_COLOR[: len(mode)] + (255,) * (len(mode) - 3))
        image.paste((10, 200, 30, 255)[: len(mode)], (0, 0, width // 2, height // 3))
    return encode(image, "PNG")


# EXIF orientations a camera writes: 6 = the sensor was turned a quarter turn clockwise.
ORIENTATION_TAG = 0x0112


def make_rotated(width: int, height: int, orientation: int, fmt: str = "JPEG", noisy: bool = False) -> bytes:
    """Stored as width×height with an EXIF orientation; shown as height×width for orientations 5-8.

    The left half is darker than the right, so a test can tell which way the picture was turned.
    """
    if noisy:
        image = Image.merge("RGB", [Image.effect_noise((width, height), 60 + 20 * i) for i in range(3)])
    else:
        image = _solid(width, height, DEFAULT_COLOR)
    image.paste((20, 20, 20), (0, 0, width // 2, height))
    exif = Image.Exif()
    exif[ORIENTATION_TAG] = orientation
    buffer = io.BytesIO()
    image.save(buffer, format=pillow_format(fmt), exif=exif, quality=90)
    return buffer.getvalue()


def displayed(data: bytes) -> Image.Image:
    """The decoded image as a viewer shows it: EXIF orientation applied."""
    from PIL import ImageOps

    with _open(data) as image:
        return ImageOps.exif_transpose(image)


def make_dot_mask(width: int, height: int, mode: str = "L") -> bytes:
    """A black mask with one white pixel: the smallest thing a member can ask to repaint."""
    mask = Image.new("L", (width, height), 0)
    mask.putpixel((width // 2 + 1, height // 2 + 1), 255)
    return encode(mask.convert(mode), "PNG")
