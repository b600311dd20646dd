"""The canvas and mask of Zoom Out, Pan and Vary Region (bot/core/canvas.py): the drawn masks kept encoded
(each canvas size and box drawn once, never mixed up with another, the number kept bounded), the picture
shrunk close to a careful resampling without banding and enlarged smoothly, and a turned photograph laid out
as shown."""

from __future__ import annotations

import io

import pytest
from PIL import Image, ImageChops, ImageStat

from bot.core import canvas, imaging
from bot.core.canvas import Layout
from bot.services import edits
from bot.services.edits import Plan
from bot.services.inpaint import Upload
from tests.fakes.images import make_rotated


@pytest.fixture(autouse=True)
def no_masks_kept():
    canvas.drawn_mask.cache_clear()
    yield
    canvas.drawn_mask.cache_clear()


def detailed(width: int, height: int) -> Image.Image:
    """A picture with fine detail everywhere (a Mandelbrot set in three tints), so resampling shows."""
    grey = Image.effect_mandelbrot((width, height), (-2.0, -1.25, 0.6, 1.25), 100)
    return Image.merge("RGB", (grey, grey.point(lambda v: 255 - v), grey.rotate(90)))


def decoded(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data))


def white_exactly_outside(mask: Image.Image, box: tuple[int, int, int, int], inside: int = 0) -> bool:
    expected = Image.new("L", mask.size, 255 - inside)
    expected.paste(inside, box)
    return ImageChops.difference(mask.convert("L"), expected).getbbox() is None


def test_a_drawn_mask_is_encoded_once_per_canvas_size_and_box_and_is_the_one_drawn_anew():
    layout = Layout(1024, 1024, canvas.zoom_keep(1024, 1024, 1.5))
    first = canvas.compose(detailed(1024, 1024), layout)
    second = canvas.compose(detailed(1024, 1024).rotate(180), layout)
    assert second.mask is first.mask, "the second edit of that size and box reuses the encoded mask"
    info = canvas.drawn_mask.cache_info()
    assert (info.hits, info.misses) == (1, 1)
    anew, extrema = canvas.drawn_mask.__wrapped__((1024, 1024), layout.keep, 0)
    assert (first.mask, first.mask_extrema) == (anew, extrema) == (anew, (0, 255))
    assert isinstance(first.mask, bytes), "immutable: one member's edit cannot change another's mask"
    assert white_exactly_outside(decoded(first.mask), layout.keep)
    assert decoded(first.mask).mode == "L"


def test_masks_of_the_same_canvas_with_other_boxes_are_never_mixed_up():
    picture = detailed(1024, 768)
    right, left = (canvas.compose(picture, edits.layout(Plan("pan", direction=d), 1024, 768)) for d in ("right", "left"))
    assert (right.width, right.height) == (left.width, left.height) == (1536, 768)
    assert white_exactly_outside(decoded(right.mask), (0, 0, 1024, 768))
    assert white_exactly_outside(decoded(left.mask), (512, 0, 1536, 768))
    full = Layout(1024, 768, (0, 0, 1024, 768))
    half, border = (canvas.compose(picture, full, region=r) for r in ("left", "border"))
    assert white_exactly_outside(decoded(half.mask), (0, 0, 512, 768), inside=255), "white inside the region"
    assert white_exactly_outside(decoded(border.mask), (256, 192, 768, 576), inside=0), "white around the middle"
    all_black = canvas.drawn_mask((64, 64), (0, 0, 64, 64), 0)
    assert all_black[1] == (0, 0), "the extrema are the mask's own, for the all-black check"


def test_the_masks_kept_are_bounded():
    for side in range(8, 8 * (canvas.MASKS_KEPT + 10) + 1, 8):
        canvas.drawn_mask((side, 8), (0, 0, side // 2, 8), 255)
    assert canvas.drawn_mask.cache_info().currsize == canvas.MASKS_KEPT


def test_a_shrunk_picture_stays_close_to_a_careful_resampling():
    picture = detailed(1024, 1024)
    layout = Layout(1024, 1024, canvas.zoom_keep(1024, 1024, 1.5))
    made = decoded(canvas.compose(picture, layout).image).convert("RGB").crop(layout.keep)
    careful = picture.resize(made.size, Image.Resampling.LANCZOS)
    diff = ImageStat.Stat(ImageChops.difference(made, careful))
    assert max(diff.mean) < 6, f"mean difference per channel {diff.mean}"


def test_fine_stripes_shrunk_by_a_fraction_come_out_grey_not_banded():
    row = Image.new("L", (1024, 1))
    row.putdata([255 * (x % 2) for x in range(1024)])  # one-pixel stripes: the finest detail there is
    stripes = row.resize((1024, 1024), Image.Resampling.NEAREST).convert("RGB")
    layout = Layout(1024, 1024, canvas.zoom_keep(1024, 1024, 1.5))
    made = decoded(canvas.compose(stripes, layout).image).convert("L").crop(layout.keep)
    spread = ImageStat.Stat(made).stddev[0]
    assert spread < 30, f"the stripes averaged to grey (a careful resampling: 2), not bands (a box filter: 90): {spread}"


def test_an_enlarged_picture_is_smooth_not_blocky():
    picture = Image.new("RGB", (4, 4), (0, 0, 0))
    picture.paste((240, 240, 240), (2, 0, 4, 4))  # dark left half, light right half
    made = decoded(canvas.compose(picture, Layout(64, 64, (0, 0, 64, 64)), region="left").image).convert("L")
    row = [made.getpixel((x, 32)) for x in range(64)]
    ramp = [v for v in row if 40 < v < 200]
    assert len(ramp) >= 6, f"a ramp between the halves, not a step: {row}"


@pytest.mark.parametrize("fmt", ["jpeg", "png", "webp"])
def test_a_turned_photograph_is_laid_out_as_shown(fmt):
    data = make_rotated(512, 384, orientation=6, fmt=fmt)  # stored landscape, dark left half; shown portrait
    upload = Upload("image", f"phone.{fmt}", "", len(data), f"image/{fmt}", 512, 384)
    made = edits.build(Plan("region", region="left"), data, upload, fmt)
    assert (made.width, made.height) == (384, 512)
    shown = decoded(made.image).convert("L")
    assert shown.getpixel((192, 64)) < 60 < shown.getpixel((192, 448)), "the dark half at the top, as shown"


def test_the_canvas_is_encoded_through_a_file_descriptor_into_the_same_jpeg():
    """Pillow releases the GIL only when it encodes into a real file; into a BytesIO it holds it throughout,
    and the other image threads and the event loop wait."""
    picture = detailed(512, 384)
    with imaging._memory_file() as out:
        assert out.fileno() >= 0
    made = canvas.compose(picture, Layout(512, 384, (0, 0, 512, 384)), region="left")
    buffer = io.BytesIO()
    picture.save(buffer, "JPEG", quality=canvas.JPEG_QUALITY)
    assert made.image == buffer.getvalue()


@pytest.mark.parametrize("fmt, params", [("JPEG", {"quality": 85}), ("WEBP", {"quality": 80}),
                                         ("PNG", {"optimize": True})])
def test_every_encode_off_the_loop_goes_through_a_file_descriptor_into_the_same_bytes(fmt, params):
    """The results fitted to the upload limit and the usage chart are encoded as the canvas is, and each
    comes out byte for byte what a BytesIO would have held."""
    picture = detailed(256, 192)
    buffer = io.BytesIO()
    picture.save(buffer, fmt, **params)
    assert imaging.encoded(picture, fmt, **params) == buffer.getvalue()
