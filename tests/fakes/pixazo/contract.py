"""The contract, as read from the document: each endpoint's path, fields and answer.

Written from the provider's document, not from the bot's catalog: a wrong catalog entry then fails
a test instead of agreeing with itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

STRING, INTEGER, NUMBER, URL_KIND = "string", "integer", "number", "url"

# The document's SD3 aspect ratios (the digest lists them; the document says "e.g.").
SD3_ASPECT_RATIOS = ("1:1", "16:9", "21:9", "3:2", "2:3", "4:5", "5:4", "9:16", "9:21")
# SD3.5's document only says 'e.g., "1:1", "16:9"', so there we check the W:H shape only.
RATIO_SHAPE = re.compile(r"^[1-9][0-9]{0,2}:[1-9][0-9]{0,2}$")


@dataclass(frozen=True)
class FieldSpec:
    name: str
    kind: str  # STRING | INTEGER | NUMBER | URL_KIND
    required: bool = False
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] | None = None
    pattern: re.Pattern[str] | None = None


@dataclass(frozen=True)
class EndpointSpec:
    path: str
    fields: tuple[FieldSpec, ...]
    result: str  # "output" (SD3), "prediction" (SD3.5: id/status/output), "imageUrl" (the rest)
    default_format: str = "png"
    stream: bool = False  # may answer raw image bytes instead of JSON
    inpainting: bool = False  # fetches imageUrl / maskUrl before answering
    # Alternative spellings accepted for a field (the document's own example uses them).
    aliases: tuple[tuple[str, str], ...] = ()

    def field(self, name: str) -> FieldSpec | None:
        return next((f for f in self.fields if f.name == name), None)


def _prompt() -> FieldSpec:
    return FieldSpec("prompt", STRING, required=True)


def _sdxl_fields(negative: str, guidance: str) -> tuple[FieldSpec, ...]:
    # SDXL Base and Lightning differ only in two names; ranges are the model host's (see digest).
    return (
        _prompt(),
        FieldSpec(negative, STRING),
        FieldSpec("height", INTEGER, minimum=256, maximum=2048),
        FieldSpec("width", INTEGER, minimum=256, maximum=2048),
        FieldSpec("num_steps", INTEGER, minimum=1, maximum=20),
        # The document says Integer; a guidance scale is naturally fractional, so floats pass too.
        FieldSpec(guidance, NUMBER, minimum=0),
        FieldSpec("seed", INTEGER, minimum=0),
    )


_INPAINTING_FIELDS = (
    _prompt(),
    FieldSpec("imageUrl", URL_KIND),
    FieldSpec("maskUrl", URL_KIND),
    FieldSpec("negativePrompt", STRING),
    # No range in the document; >= 1 only rules out a meaningless zero-sized or zero-step request.
    FieldSpec("height", INTEGER, minimum=1),
    FieldSpec("width", INTEGER, minimum=1),
    FieldSpec("num_steps", INTEGER, minimum=1),
    FieldSpec("guidance", NUMBER, minimum=0),
    FieldSpec("seed", INTEGER, minimum=0),
)

ENDPOINTS: dict[str, EndpointSpec] = {
    spec.path: spec
    for spec in (
        EndpointSpec(
            "/sd3/v1/getData",
            (
                _prompt(),
                FieldSpec("negativePrompt", STRING),
                FieldSpec("steps", INTEGER, minimum=1, maximum=28),
                FieldSpec("cfg", NUMBER, minimum=0, maximum=20),
                FieldSpec("aspect_ratio", STRING, choices=SD3_ASPECT_RATIOS),
                FieldSpec("output_format", STRING, choices=("webp", "jpg", "png")),
                FieldSpec("output_quality", INTEGER, minimum=0, maximum=100),
                FieldSpec("prompt_strength", NUMBER, minimum=0, maximum=1),
            ),
            result="output",
            default_format="webp",  # the document: output_format Default: "webp"
        ),
        EndpointSpec(
            "/sd3-5/v1/r-sd-3-5-large",
            # The document marks every field required.
            (
                _prompt(),
                FieldSpec("aspect_ratio", STRING, required=True, pattern=RATIO_SHAPE),
                FieldSpec("cfg", NUMBER, required=True, minimum=1, maximum=20),
                FieldSpec("steps", NUMBER, required=True, minimum=20, maximum=100),
                FieldSpec("output_format", STRING, required=True, choices=("webp", "jpg", "png", "jpeg")),
                FieldSpec("output_quality", NUMBER, required=True, minimum=1, maximum=100),
                FieldSpec("prompt_strength", NUMBER, required=True, minimum=0, maximum=1),
            ),
            result="prediction",
        ),
        EndpointSpec(
            "/getImage/v1/getSDXLImage", _sdxl_fields("negative_prompt", "guidance_scale"), "imageUrl"
        ),
        EndpointSpec(
            "/sdxl_lightning/getImage/v1/getSDXLImage", _sdxl_fields("negativePrompt", "guidance"), "imageUrl"
        ),
        EndpointSpec(
            "/sdxl_lightning/getImage/v1/getSDXLImageStream",
            _sdxl_fields("negativePrompt", "guidance"),
            "imageUrl",
            stream=True,
        ),
        EndpointSpec(
            "/inpainting/v1/getImage",
            _INPAINTING_FIELDS,
            "imageUrl",
            inpainting=True,
            # The parameter table says negativePrompt; the endpoint's own example sends negative_prompt.
            aliases=(("negative_prompt", "negativePrompt"),),
        ),
        EndpointSpec(
            "/inpainting/v1/getImageStream",
            _INPAINTING_FIELDS,
            "imageUrl",
            stream=True,
            inpainting=True,
            aliases=(("negative_prompt", "negativePrompt"),),
        ),
    )
}
