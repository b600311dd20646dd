"""Zoom Out, Pan and Vary Region (and the message menus' "Inpaint this…" and "Zoom out this"): a picture
already posted in Discord, checked as /inpaint checks an attachment, laid on a canvas with a mask off the
event loop, and sent to the inpainting model. No Discord here: the ui hosts the canvas and mask (Pixazo
fetches them from Discord's CDN) and queues the job."""

from __future__ import annotations

import asyncio
import collections
from dataclasses import dataclass
from typing import Any

import aiohttp
from PIL import Image

from bot.catalog import INPAINT
from bot.core import canvas
from bot.core.canvas import Composed, Layout
from bot.core.errors import InvalidInput
from bot.core.i18n import Text, _
from bot.core.offload import Offload, OffloadTimeout
from bot.services.inpaint import (
    Checked,
    Upload,
    check_mask_range,
    download,
    fitted_size,
    inspect,
    precheck,
)
from bot.services.validation import Prepared, prepare

ZOOMS = {"1.5": 1.5, "2": 2.0}  # a Zoom Out button's factor, as its custom_id names it
ARROWS = {"left": "←", "right": "→", "up": "↑", "down": "↓"}
# A region as a form's choice and in an edit's title ("Vary region (left half)").
REGION_CHOICES = {"left": _("Left half"), "right": _("Right half"), "top": _("Top half"), "bottom": _("Bottom half"),
                  "centre": _("Centre"), "border": _("Border")}
REGION_NAMES = {"left": _("left half"), "right": _("right half"), "top": _("top half"), "bottom": _("bottom half"),
                "centre": _("centre"), "border": _("border")}
UPLOADED = "upload"  # the region select's choice: the member's own mask
# A mask is drawn over the picture: shapes this far apart are two different pictures, not a rounding.
MASK_RATIO_SLACK = 0.02
CANVAS_FILE, MASK_FILE = "canvas.jpg", "mask.png"


@dataclass(frozen=True)
class Plan:
    """What to do to the picture: "zoom" (by `factor`), "pan" (towards `direction`) or "region" (`region`,
    or the member's mask when `region` is UPLOADED)."""

    kind: str
    factor: float = 2.0
    direction: str = ""
    region: str = ""

    @property
    def title(self) -> Text:
        """What the edit is called where the member reads it: its form's title, the note above its result."""
        if self.kind == "zoom":
            return _("Zoom out {factor}×", factor=f"{self.factor:g}")
        if self.kind == "pan":
            return _("Pan {arrow}", arrow=ARROWS[self.direction])
        return _("Vary region ({region})", region=_("your mask") if self.region == UPLOADED else REGION_NAMES[self.region])


def plan_for_region(region: str, has_mask: bool) -> Plan:
    """The form's region choice; an uploaded mask wins over any choice, and "your mask" needs one."""
    if has_mask:
        return Plan("region", region=UPLOADED)
    if region == UPLOADED:
        raise InvalidInput(_("You chose your own mask but uploaded none: upload one (white is repainted), or choose "
                             "a region."))
    if region not in REGION_NAMES:
        raise InvalidInput(_("Choose one of the regions the form offers."), detail=f"region {region!r}")
    return Plan("region", region=region)


def plan_for_zoom(factor: str) -> Plan:
    """The "How far" choice of "Zoom out this"."""
    if factor not in ZOOMS:
        raise InvalidInput(_("Choose one of the zooms the form offers."), detail=f"zoom factor {factor!r}")
    return Plan("zoom", factor=ZOOMS[factor])


def layout(plan: Plan, width: int, height: int) -> Layout:
    """The canvas for `plan` on a picture `width`×`height` (as displayed), sized for the inpainting model:
    both sides within its range and multiples of 8, the shape kept (refused when it cannot fit)."""
    if plan.kind == "pan":
        wide, tall = canvas.pan_canvas(width, height, plan.direction)
        w, h = fitted_size(INPAINT, round(wide), round(tall))
        return Layout(w, h, canvas.pan_keep(w, h, plan.direction))
    w, h = fitted_size(INPAINT, width, height)
    if plan.kind == "zoom":
        return Layout(w, h, canvas.zoom_keep(w, h, plan.factor))
    return Layout(w, h, (0, 0, w, h))


def build(plan: Plan, image: bytes, image_upload: Upload, image_type: str, mask: bytes | None = None,
          mask_upload: Upload | None = None, mask_type: str = "") -> Composed:
    """Blocking (the image pool only): the picture (and the member's mask) checked as /inpaint checks them,
    then the canvas and mask made. Raises InvalidInput with the member's sentence."""
    pictures: list[Image.Image] = []  # decoded once, by the check
    checked = inspect(image, image_upload, image_type, lambda decoded: pictures.append(canvas.upright(decoded)))
    drawn = inspect(mask, mask_upload, mask_type) if mask is not None and mask_upload is not None else None
    if drawn is not None:
        _same_shape(checked, drawn)
    where = layout(plan, checked.width, checked.height)
    composed = canvas.compose(pictures[0], where, region=plan.region if plan.kind == "region" and drawn is None else None,
                              mask=mask if drawn is not None else None)
    check_mask_range(composed.mask_extrema, all_white=_("The mask is entirely white, so the whole picture would be "
                                                        "replaced. Paint the part to keep in black."))
    return composed


def _same_shape(image: Checked, mask: Checked) -> None:
    ratio_image, ratio_mask = image.width / image.height, mask.width / mask.height
    if abs(ratio_image - ratio_mask) > MASK_RATIO_SLACK * ratio_image:
        raise InvalidInput(_("The mask is {mask_size} but the picture is {image_size}: draw the mask over the "
                             "picture, so it has the same shape (any size).", mask_size=f"{mask.width}×{mask.height}",
                             image_size=f"{image.width}×{image.height}"))


def prepared_edit(prompt: str, composed: Composed, image_url: str, mask_url: str) -> Prepared:
    """The inpainting request: the prompt, the canvas's size, and the hosted canvas and mask."""
    prepared = prepare(INPAINT, {"prompt": prompt, "width": composed.width, "height": composed.height})
    assert INPAINT.image_field and INPAINT.mask_field, "the inpainting model names its image and mask fields"
    payload: dict[str, Any] = {**prepared.payload, INPAINT.image_field: image_url, INPAINT.mask_field: mask_url}
    return Prepared(INPAINT, prepared.prompt, payload, prepared.shown)


def ledger_inputs(composed: Composed, source: Upload) -> dict[str, Any]:
    """What the ledger keeps of the inputs (never their bytes): the canvas and mask as Pixazo got them,
    so a Reroll or Edit of the job checks them again as it does /inpaint's, and where the picture came from."""
    files = {"image": (CANVAS_FILE, composed.image, "jpeg"), "mask": (MASK_FILE, composed.mask, "png")}
    inputs: dict[str, Any] = {role: {"filename": name, "bytes": len(data), "width": composed.width,
                                     "height": composed.height, "format": fmt}
                              for role, (name, data, fmt) in files.items()}
    inputs["source"] = {"filename": source.filename, "bytes": source.size}
    return inputs


class Edits:
    """The picture (and a member's mask) checked before any credit is spent: what Discord says of it first,
    then (once the member is known to be able to pay) downloaded, checked and laid out on the image pool."""

    def __init__(self, settings: Any, session: aiohttp.ClientSession, offload: Offload, quotas: Any) -> None:
        self._settings = settings
        self._session = session
        self._offload = offload
        self._quotas = quotas
        # Per member: edits being downloaded and laid out, not yet queued; they count against their jobs.
        self._checking: collections.Counter[int] = collections.Counter()

    def precheck(self, image: Upload, mask: Upload | None = None) -> list[str]:
        limit = self._settings.inpaint_max_file_bytes
        return [precheck(upload, max_bytes=limit) for upload in (image, mask) if upload is not None]

    async def compose(self, member: Any, plan: Plan, image: Upload, declared: list[str], *, mask: Upload | None = None
                      ) -> Composed:
        """The canvas and mask, once the member is known to be able to pay."""
        settings = self._settings
        user = member.user_id
        self._checking[user] += 1  # before the precheck awaits, so edits sent together see each other
        try:
            await self._quotas.precheck(member, INPAINT.key, pending=self._checking[user] - 1)
            uploads = [u for u in (image, mask) if u is not None]
            data = await asyncio.gather(*(download(self._session, u, max_bytes=settings.inpaint_max_file_bytes,
                                                   timeout=settings.pixazo_timeout_seconds) for u in uploads))
            extra: tuple[Any, ...] = (data[1], mask, declared[1]) if mask is not None else ()
            return await self._offload.run(build, plan, data[0], image, declared[0], *extra,
                                           timeout=settings.image_work_timeout_seconds)
        except OffloadTimeout as exc:
            raise InvalidInput(_("The picture took too long to prepare, so nothing was spent. Try again in a minute."),
                               detail=f"edit of {image.filename}: {exc}") from None
        finally:
            self._checking[user] -= 1
            if not self._checking[user]:
                del self._checking[user]
