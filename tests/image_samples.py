"""Real photographs for the image check's tests: scikit-image ships them in skimage/data (read as files,
without importing scikit-image). The tests that need the model skip when the image-check extra is not
installed, unless REQUIRE_IMAGE_CHECK=1 (as CI sets it), which turns that skip into a failure."""

from __future__ import annotations

import io
import os
from importlib.metadata import PackageNotFoundError, distribution
from importlib.util import find_spec

import pytest
from PIL import Image


def _installed(name: str) -> bool:
    try:
        return find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def require_image_check() -> None:
    """Skip (or, under REQUIRE_IMAGE_CHECK=1, fail) a test that needs the model and the photographs."""
    missing = [name for name, module in (("nudenet", "nudenet"), ("scikit-image", "skimage")) if not _installed(module)]
    if not missing:
        return
    message = f"the image check's tests need {' and '.join(missing)} (pip install -e \".[dev,image-check]\")"
    if os.environ.get("REQUIRE_IMAGE_CHECK") == "1":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def photo(name: str) -> Image.Image:
    """One of scikit-image's sample photographs ("astronaut", "coffee", ...), as RGB."""
    try:
        dist = distribution("scikit-image")
    except PackageNotFoundError:
        pytest.skip("scikit-image is not installed")
    for ext in ("png", "jpg"):
        path = dist.locate_file(f"skimage/data/{name}.{ext}")
        if os.path.exists(str(path)):
            with Image.open(str(path)) as image:
                return image.convert("RGB")
    raise FileNotFoundError(name)


def photo_bytes(name: str, fmt: str = "PNG", side: int | None = None) -> bytes:
    """The photograph encoded as a result would be, optionally scaled to `side`×`side`."""
    image = photo(name)
    if side is not None:
        image = image.resize((side, side), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    image.save(out, fmt)
    return out.getvalue()


# A face (Eileen Collins in her flight suit): what a test counts when it configures FACE_FEMALE.
FACE = "astronaut"
# Landscapes, objects, animals, textures and scans: nothing the default classes name.
BENIGN = ("coffee", "chelsea", "rocket", "motorcycle_left", "brick", "grass", "gravel", "hubble_deep_field",
          "moon", "page", "coins", "horse", "camera", "retina", "cell", "text", "clock_motion", "ihc", "logo")
