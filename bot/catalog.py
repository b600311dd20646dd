"""The model catalog: the one place that knows each Pixazo endpoint.

Every field name, range, default, cost and response shape lives here. Slash-command options,
request validation, the payload sent to Pixazo and the help text are all derived from these
entries, so adding a model is adding an entry.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

PROMPT_MAX_LENGTH = 1500
SEED_MAX = 2**32 - 1
# Pixazo's SDXL family works on latents 8 pixels apart; other sizes are refused or cropped.
SIZE_MULTIPLE = 8

ASPECT_RATIOS = ("1:1", "16:9", "21:9", "3:2", "2:3", "4:5", "5:4", "9:16", "9:21")


class Kind(Enum):
    TEXT = "text"
    INPAINT = "inpaint"


@dataclass(frozen=True)
class Param:
    """One user-facing option and the endpoint field it maps to."""

    option: str  # the slash-command option name, the same across models
    field: str  # the endpoint's own field name
    type: type  # int, float or str
    description: str
    default: Any = None  # sent when the user gives nothing; None means "leave it out"
    min: float | None = None
    max: float | None = None
    choices: tuple[str, ...] = ()
    multiple_of: int | None = None


@dataclass(frozen=True)
class Model:
    key: str  # also the slash command's name
    title: str
    path: str
    params: tuple[Param, ...]
    result_field: str  # where the image URL is in the JSON answer
    cost: int  # credits per image, unless settings override it
    kind: Kind = Kind.TEXT
    stream_path: str | None = None
    status_field: str | None = None  # endpoint 2 reports a status that must read "succeeded"
    fixed: dict[str, Any] = field(default_factory=dict)  # sent on every call, not user-settable
    image_field: str | None = None  # inpainting: the input image's URL
    mask_field: str | None = None  # inpainting: the mask's URL

    @property
    def summary(self) -> str:
        if self.kind is Kind.INPAINT:
            return f"Repaint part of an image with {self.title}"
        return f"Generate an image with {self.title}"

    def param(self, option: str) -> Param | None:
        return next((p for p in self.params if p.option == option), None)

    def path_for(self, use_stream: bool) -> str:
        return self.stream_path if use_stream and self.stream_path else self.path


def _prompt() -> Param:
    return Param("prompt", "prompt", str, "What to draw", min=1, max=PROMPT_MAX_LENGTH)


def _negative(field_name: str, description: str = "What to keep out of the image") -> Param:
    return Param("negative_prompt", field_name, str, description, max=PROMPT_MAX_LENGTH)


def _format_options(formats: tuple[str, ...], quality_min: int) -> tuple[Param, Param]:
    return (
        Param("output_format", "output_format", str, "Image file format", default="webp", choices=formats),
        Param("output_quality", "output_quality", int, "Compression quality (100 is best)", default=90,
              min=quality_min, max=100),
    )


SIZE_MIN, SIZE_MAX = 256, 2048
# The largest result the bot will check and deliver (about 9× what any model makes at 2048²): past
# it a "result" is treated as a decompression bomb, refused before its pixels are allocated and never
# delivered unchecked. Up to it, a huge result is fully decoded once, then downscaled to fit.
RESULT_MAX_PIXELS = 6000 * 6000


def _sdxl_family(*, negative: str, guidance: str, size_default: int | None = 1024,
                 size_note: str = "") -> tuple[Param, ...]:
    return (
        _prompt(),
        _negative(negative),
        Param("width", "width", int, f"Width in pixels, a multiple of 8{size_note}", default=size_default,
              min=SIZE_MIN, max=SIZE_MAX, multiple_of=SIZE_MULTIPLE),
        Param("height", "height", int, f"Height in pixels, a multiple of 8{size_note}", default=size_default,
              min=SIZE_MIN, max=SIZE_MAX, multiple_of=SIZE_MULTIPLE),
        Param("steps", "num_steps", int, "Denoising steps (more is slower, finer)", default=20, min=1, max=20),
        Param("guidance", guidance, int, "How closely to follow the prompt", default=5, min=0, max=20),
        Param("seed", "seed", int, "Seed, to make the same image again (random when empty)", min=0, max=SEED_MAX),
    )


SD3 = Model(
    key="sd3",
    title="Stable Diffusion 3",
    path="/sd3/v1/getData",
    params=(
        _prompt(),
        _negative("negativePrompt", "What to avoid (SD3 handles negative prompts unpredictably)"),
        Param("aspect_ratio", "aspect_ratio", str, "Shape of the image", default="1:1", choices=ASPECT_RATIOS),
        Param("steps", "steps", int, "Denoising steps (more is slower, finer)", default=28, min=1, max=28),
        Param("guidance", "cfg", float, "How closely to follow the prompt", default=3.5, min=0, max=20),
        *_format_options(("webp", "jpg", "png"), quality_min=0),
    ),
    result_field="output",
    cost=3,
)

SD35_LARGE = Model(
    key="sd35-large",
    title="Stable Diffusion 3.5 Large",
    path="/sd3-5/v1/r-sd-3-5-large",
    params=(
        _prompt(),
        Param("aspect_ratio", "aspect_ratio", str, "Shape of the image", default="1:1", choices=ASPECT_RATIOS),
        Param("steps", "steps", int, "Denoising steps (more is slower, finer)", default=40, min=20, max=100),
        Param("guidance", "cfg", float, "How closely to follow the prompt", default=4.5, min=1, max=20),
        *_format_options(("webp", "jpg", "png"), quality_min=1),
    ),
    result_field="output",
    status_field="status",
    # The endpoint marks every field required, this one included, though it only matters for img2img.
    fixed={"prompt_strength": 0.85},
    cost=4,
)

SDXL = Model(
    key="sdxl",
    title="Stable Diffusion XL Base 1.0",
    path="/getImage/v1/getSDXLImage",
    params=_sdxl_family(negative="negative_prompt", guidance="guidance_scale"),
    result_field="imageUrl",
    cost=2,
)

SDXL_LIGHTNING = Model(
    key="sdxl-lightning",
    title="Stable Diffusion XL Lightning",
    path="/sdxl_lightning/getImage/v1/getSDXLImage",
    stream_path="/sdxl_lightning/getImage/v1/getSDXLImageStream",
    params=_sdxl_family(negative="negativePrompt", guidance="guidance"),
    result_field="imageUrl",
    cost=1,
)

INPAINT = Model(
    key="inpaint",
    title="Stable Diffusion 1.5 Inpainting",
    path="/inpainting/v1/getImage",
    stream_path="/inpainting/v1/getImageStream",
    # The parameter table says negativePrompt; the endpoint-6 example sends negative_prompt. The table
    # is the specification and matches endpoint 7, so we follow it.
    params=_sdxl_family(negative="negativePrompt", guidance="guidance", size_default=None,
                        size_note=" (default: the image's own size)"),
    result_field="imageUrl",
    kind=Kind.INPAINT,
    image_field="imageUrl",
    mask_field="maskUrl",
    cost=2,
)

MODELS: dict[str, Model] = {m.key: m for m in (SD3, SD35_LARGE, SDXL, SDXL_LIGHTNING, INPAINT)}
TEXT_MODELS: tuple[Model, ...] = tuple(m for m in MODELS.values() if m.kind is Kind.TEXT)

# /imagine's aspect ratio on models sized in pixels: the default's area (1024²) in that shape.
ASPECT_AREA = 1024 * 1024


def aspect_options(model: Model, ratio: str) -> dict[str, Any]:
    """The model's own options for an aspect ratio (`16:9`): the SD3 family takes it as is; the SDXL family
    gets a width and height of about ASPECT_AREA in that shape, multiples of 8 within their ranges."""
    if model.param("aspect_ratio") is not None:
        return {"aspect_ratio": ratio}
    width, height = model.param("width"), model.param("height")
    if width is None or height is None:
        return {}
    across, down = (int(part) for part in ratio.split(":"))
    scale = math.sqrt(ASPECT_AREA / (across * down))
    return {"width": _snapped(across * scale, width), "height": _snapped(down * scale, height)}


def _snapped(value: float, param: Param) -> int:
    step = param.multiple_of or 1
    low = int(param.min) if param.min is not None else step
    high = int(param.max) if param.max is not None else int(value)
    return max(low, min(high, int(round(value / step)) * step))
