"""What Pixazo answers: JSON bodies, the gateway's errors, result bodies and the image's size."""

from __future__ import annotations

import hashlib
import json
import math
import uuid
from typing import Any

from aiohttp import web

from tests.fakes.images import pillow_format

from .contract import EndpointSpec

MISSING_KEY = (
    "Access denied due to missing subscription key. "
    "Make sure to include subscription key when making requests to an API."
)
WRONG_KEY = "Access denied due to invalid subscription key. Make sure to provide a valid key for an active subscription."
DEFAULT_SIDE = 1024  # the document's example size; generated images are this / SCALE
SCALE = 16  # generated images are 1/16 of the requested size, so tests stay fast
MAX_SIDE = 512  # the fake's own guard against a silly request eating memory


def json_response(status: int, payload: Any, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        status=status,
        body=json.dumps(payload).encode(),
        content_type="application/json",
        charset="utf-8",
        headers=headers,
    )


def gateway_error(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    # The gateway's own errors (auth, throttling, routing) use this Azure-APIM-style shape.
    return json_response(status, {"statusCode": status, "message": message}, headers)


def echo_key(headers: dict[str, str]) -> web.Response:
    key = headers.get("Ocp-Apim-Subscription-Key", "")
    return json_response(400, {"statusCode": 400, "message": (
        f"Request rejected: header Ocp-Apim-Subscription-Key={key} is not valid for this **operation**; "
        "see https://gateway.example/docs @everyone <@123>")})


def result_body(spec: EndpointSpec, url: str) -> dict[str, Any]:
    if spec.result == "output":
        return {"output": url}
    if spec.result == "prediction":
        return {"id": prediction_id(), "status": "succeeded", "output": url}
    return {"imageUrl": url}


def prediction_id() -> str:
    return uuid.uuid4().hex[:26]  # the document's example id is 26 lowercase characters


def retry_after_value(seconds: float) -> str:
    # HTTP wants whole seconds; fractions are kept so tests can use tiny waits.
    return str(int(seconds)) if float(seconds).is_integer() else str(seconds)


# ---------------------------------------------------------------------------------------------
# Image generation: sizes and formats
# ---------------------------------------------------------------------------------------------


def _scaled(side: int) -> int:
    return max(1, min(MAX_SIDE, round(side / SCALE)))


def _aspect_size(ratio: str) -> tuple[int, int]:
    """About a megapixel at the given W:H ratio, like SD3 produces, then scaled down."""
    w, h = (int(part) for part in ratio.split(":"))
    return _scaled(round(DEFAULT_SIDE * math.sqrt(w / h))), _scaled(round(DEFAULT_SIDE * math.sqrt(h / w)))


def output_size(spec: EndpointSpec, body: dict[str, Any], source: tuple[int, int] | None) -> tuple[int, int]:
    if spec.result in ("output", "prediction"):
        return _aspect_size(body.get("aspect_ratio", "1:1"))
    if spec.inpainting and source is not None and "width" not in body and "height" not in body:
        return source  # inpainting answers at the input image's size unless told otherwise
    return _scaled(body.get("width", DEFAULT_SIDE)), _scaled(body.get("height", DEFAULT_SIDE))


def prompt_color(prompt: str) -> tuple[int, int, int]:
    """A colour derived from the prompt, so tests can tell two results apart."""
    digest = hashlib.sha256(prompt.encode()).digest()
    return digest[0], digest[1], digest[2]


def image_format_from_url(url: str) -> str:
    return pillow_format(url.rsplit(".", 1)[-1])
