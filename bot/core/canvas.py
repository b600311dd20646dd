"""The canvas and mask of an outpainting or region edit, made with Pillow (blocking: the image pool only).

A `Layout` says where the picture goes on the canvas: Zoom Out shrinks it into a canvas of its own size,
Pan puts it at one end of a canvas half as long again, a region edit fills the canvas with it. The
mask is white (repaint) exactly where the picture is not, or over the chosen region, or the member's
own mask scaled to the canvas; black is kept. The new part of the canvas is a wash of the picture's
own colours (the picture at 8×8, stretched), which costs nothing and starts the painter off in the
right palette. A drawn mask (Zoom Out, Pan, a preset region) depends on nothing but the canvas's size and
its box, so each is drawn and encoded once and kept (a few kilobytes each, the most recent MASKS_KEPT).
"""

from __future__ import annotations

import functools
import io
from dataclasses import dataclass
from typing import cast

from PIL import Image, ImageOps

from bot.core.imaging import encoded

Box = tuple[int, int, int, int]  # left, top, right, bottom (right and bottom excluded)

PAN_GROWTH = 1.5  # a Pan extends the canvas by half in its direction
REGIONS = ("left", "right", "top", "bottom", "centre", "border")
PANS = ("left", "right", "up", "down")
WASH_SIDE = 8  # the new part's colours: the picture reduced to this, stretched back
PNG_LEVEL = 1  # zlib level: the files go to Discord and are fetched once; speed beats a few kilobytes
JPEG_QUALITY = 92  # the canvas goes as a JPEG of this quality (the mask is always PNG)
MASKS_KEPT = 64  # drawn masks kept encoded: each canvas size and box the members use, a few kilobytes each


@dataclass(frozen=True)
class Layout:
    width: int  # the canvas
    height: int
    keep: Box  # where the picture goes on it


@dataclass(frozen=True)
class Composed:
    image: bytes  # the canvas, a JPEG
    mask: bytes  # always PNG, mode L
    width: int
    height: int
    mask_extrema: tuple[int, int]  # darkest and lightest grey of the mask as sent


def zoom_keep(width: int, height: int, factor: float) -> Box:
    """The picture shrunk by `factor`, centred in a canvas of `width`×`height`."""
    kept_w, kept_h = max(1, round(width / factor)), max(1, round(height / factor))
    left, top = (width - kept_w) // 2, (height - kept_h) // 2
    return left, top, left + kept_w, top + kept_h


def pan_canvas(width: int, height: int, direction: str) -> tuple[float, float]:
    """The canvas a Pan needs before it is scaled to fit the painter: half as long again in `direction`."""
    if direction in ("left", "right"):
        return width * PAN_GROWTH, float(height)
    return float(width), height * PAN_GROWTH


def pan_keep(width: int, height: int, direction: str) -> Box:
    """Where the picture sits on a Pan's canvas (already scaled): at the end away from `direction`."""
    if direction in ("left", "right"):
        kept = round(width / PAN_GROWTH)
        return (width - kept, 0, width, height) if direction == "left" else (0, 0, kept, height)
    kept = round(height / PAN_GROWTH)
    return (0, height - kept, width, height) if direction == "up" else (0, 0, width, kept)


def region_box(width: int, height: int, region: str) -> Box:
    """The white part of a preset region (for "border", the black middle)."""
    half_w, half_h = width // 2, height // 2
    boxes = {"left": (0, 0, half_w, height), "right": (half_w, 0, width, height),
             "top": (0, 0, width, half_h), "bottom": (0, half_h, width, height)}
    if region in boxes:
        return boxes[region]
    return width // 4, height // 4, width - width // 4, height - height // 4  # centre, and border's middle


def upright(image: Image.Image) -> Image.Image:
    """A decoded picture, handed over, turned as it is displayed (its EXIF orientation applied) in place, in
    RGB: the picture itself when it is already both, no copy (4 MiB a 1024² picture, 1–2 ms)."""
    ImageOps.exif_transpose(image, in_place=True)
    return image if image.mode == "RGB" else image.convert("RGB")


def compose(picture: Image.Image, layout: Layout, *, region: str | None = None, mask: bytes | None = None
            ) -> Composed:
    """The canvas and its mask, around `picture` (upright, RGB). `region`: a preset region of a full canvas;
    `mask`: the member's own (any size; scaled to the canvas); neither: white wherever the picture is not
    (Zoom Out, Pan)."""
    size = (layout.width, layout.height)
    left, top, right, bottom = layout.keep
    fitted = _fitted(picture, (right - left, bottom - top))
    if layout.keep == (0, 0, *size):
        canvas = fitted  # the picture fills the canvas: nothing new to wash
    else:
        canvas = _wash(fitted, size)
        canvas.paste(fitted, (left, top))
    if mask is not None:
        painted = _member_mask(mask, size)
        low, high = cast(tuple[int, int], painted.getextrema())
        mask_png, extrema = _png(painted), (int(low), int(high))
    elif region is not None:
        mask_png, extrema = drawn_mask(size, region_box(*size, region), 0 if region == "border" else 255)
    else:
        mask_png, extrema = drawn_mask(size, layout.keep, 0)
    return Composed(_jpeg(canvas), mask_png, layout.width, layout.height, extrema)


@functools.lru_cache(maxsize=MASKS_KEPT)
def drawn_mask(size: tuple[int, int], box: Box, inside: int) -> tuple[bytes, tuple[int, int]]:
    """A mask of `size`, grey `inside` (0 or 255) within `box` and the other around it: its PNG and its darkest
    and lightest grey. Drawn and encoded once per size and box, then kept (bytes: nothing to mutate)."""
    painted = Image.new("L", size, 255 - inside)
    painted.paste(inside, box)
    low, high = cast(tuple[int, int], painted.getextrema())
    return _png(painted), (int(low), int(high))


def _wash(picture: Image.Image, size: tuple[int, int]) -> Image.Image:
    """The picture's colours, blurred across `size`: the picture averaged down to about WASH_SIDE a side (each
    cell a whole share of it, so the colours stay where they were), smoothed at an eighth of `size`, then
    stretched. (From the picture as fitted to the canvas: the same colours, fewer pixels to average.)"""
    scale = WASH_SIDE / max(1, min(picture.size))
    cells = (max(1, round(picture.width * scale)), max(1, round(picture.height * scale)))
    tiny = picture.resize(cells, Image.Resampling.BOX, reducing_gap=2.0)  # Pillow reduces by whole factors first
    smooth = tiny.resize((max(1, size[0] // 8), max(1, size[1] // 8)), Image.Resampling.BILINEAR)
    return smooth.resize(size, Image.Resampling.NEAREST)


def _fitted(picture: Image.Image, size: tuple[int, int]) -> Image.Image:
    """The picture at `size`: shrunk by whole factors first (a box average, the fastest there is; Zoom Out
    2× is exactly that), the rest resampled. (Bilinear, not a box filter for the rest: Pillow's box at a
    fraction such as 1.5 takes one pixel here and two there, and fine stripes come out as bands.)"""
    if picture.size == size:
        return picture
    factor = min(picture.width // size[0], picture.height // size[1])
    if factor >= 2:
        picture = picture.reduce(factor)
    return picture if picture.size == size else picture.resize(size, Image.Resampling.BILINEAR)


def _member_mask(data: bytes, size: tuple[int, int]) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.draft("L", size)
    upright = ImageOps.exif_transpose(image)
    if upright.mode in ("RGBA", "LA"):  # a painted layer: transparent is black, kept
        grey = Image.new("L", upright.size, 0)
        grey.paste(upright.convert("L"), mask=upright.getchannel("A"))
        upright = grey
    return upright.convert("L").resize(size, Image.Resampling.BILINEAR)


def _jpeg(image: Image.Image) -> bytes:
    """The canvas as a JPEG, encoded with the GIL released (3 to 5 ms a canvas the others need not wait)."""
    return encoded(image, "JPEG", quality=JPEG_QUALITY)


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG", compress_level=PNG_LEVEL)
    return buffer.getvalue()
