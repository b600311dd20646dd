"""A result over the member's upload limit: downscaled and re-encoded on the image pool, or linked."""

from __future__ import annotations

import functools
import io

import pytest
from PIL import Image

from tests.conftest import GUILD_ID
from tests.fakes.images import displayed, encode, gradient, make_rotated
from tests.ledger import columns, read_jobs, until

PROMPT = "a lighthouse at dusk"


@functools.cache
def huge(width: int = 4000, height: int = 4000, fmt: str = "PNG") -> bytes:
    """A 16-megapixel result by default, smooth so it is small to serve."""
    return encode(gradient(width, height, (30, 90, 200)), fmt)


def ended_as(harness, state: str):
    async def check() -> bool:
        return columns(await read_jobs(harness.settings, GUILD_ID, 4000), "state") == [(state,)]
    return check


def succeeded(harness):
    return ended_as(harness, "succeeded")


async def test_huge_result_is_downscaled_then_reencoded_to_fit(harness):
    big = huge(6000, 6000)  # 36 MP, the catalog's cap: checked whole, then downscaled to fit
    harness.pixazo.result_override = (big, "png")
    limit = len(big) // 2
    interaction = await harness.invoke("sdxl", {"prompt": PROMPT}, attachment_size_limit=limit)
    message = await interaction.wait_followup(timeout=20)
    ((filename, _, data),) = message["_files"]
    assert len(data) <= limit
    with Image.open(io.BytesIO(data)) as posted:
        assert max(posted.size) <= 2048 and posted.width == posted.height, posted.size
    assert message["_payload"]["embeds"][0]["image"]["url"] == f"attachment://{filename}"
    await until(succeeded(harness))


# A JPEG is checked at 1/8 scale (milliseconds) but re-encoded at up to 2048² (far longer than 0.1 s),
# so the deadline catches the re-encode, not the check that the result is whole.
@pytest.mark.parametrize("bot_settings", [{"image_work_timeout_seconds": 0.1}])
async def test_reencoding_past_its_deadline_posts_pixazos_link(harness):
    harness.pixazo.result_override = (huge(fmt="JPEG"), "jpeg")
    interaction = await harness.invoke("sdxl", {"prompt": PROMPT}, attachment_size_limit=60_000)
    message = await interaction.wait_followup(timeout=20)
    (call,) = [c for c in harness.pixazo.requests if c.image_url]
    assert message["_files"] == []
    assert message["_payload"]["embeds"][0]["image"]["url"] == call.image_url
    await until(succeeded(harness))  # the member saw it, through the link
    assert "took too long" in harness.log_text()


async def test_result_past_the_pixel_cap_is_refused_undecoded_and_refunded(harness):
    # Past the cap the bot cannot check the image is whole without unbounded memory: never delivered.
    harness.pixazo.result_override = (huge(6100, 6000), "png")
    interaction = await harness.invoke("sdxl", {"prompt": PROMPT}, attachment_size_limit=60_000)
    message = await interaction.wait_followup(timeout=20)
    assert message["_files"] == [] and not message.get("embeds")
    assert "too large to check" in message["content"] and "No credits were spent" in message["content"]
    assert interaction.original is None or not interaction.original.get("embeds")
    await until(ended_as(harness, "failed"))
    assert "6100×6000" in harness.log_text()


async def test_reencoded_result_keeps_its_exif_orientation(harness):
    photo = make_rotated(600, 400, orientation=6, noisy=True)  # shown portrait
    harness.pixazo.result_override = (photo, "jpeg")
    interaction = await harness.invoke("sdxl", {"prompt": PROMPT}, attachment_size_limit=len(photo) // 3)
    message = await interaction.wait_followup(timeout=20)
    ((_, _, data),) = message["_files"]
    shown = displayed(data)
    assert shown.height > shown.width, f"posted {shown.size}: the re-encode turned the picture sideways"
    # The dark half of the stored picture (its left) is at the top once turned as the camera meant.
    top, bottom = (shown.crop((0, y, shown.width, y + shown.height // 4)).convert("L").getextrema()[1]
                   for y in (0, 3 * shown.height // 4))
    assert top < bottom
