"""The image check's model on real images (bot/moderation/image_check.py): NudeNet's detector as installed with the
image-check extra, on scikit-image's photographs and the fake Pixazo's images. No mocks: when the
model is missing these skip, or fail under REQUIRE_IMAGE_CHECK=1 (CI)."""

from __future__ import annotations

import asyncio
import io
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from PIL import Image

from bot.core.offload import Offload
from bot.core.settings import load_settings
from bot.domain.detections import CLASSES, DEFAULT_CLASSES
from bot.moderation.image_check import ImageCheck, ImageCheckFailed, screen
from tests.fakes.images import encode, gradient, make_jpeg, make_png, make_webp
from tests.image_samples import BENIGN, FACE, photo, photo_bytes, require_image_check


@pytest.fixture(scope="module")
def check() -> ImageCheck:
    require_image_check()
    found = ImageCheck(DEFAULT_CLASSES)
    found.load()
    assert found.available
    return found


def test_a_face_is_detected_and_holds_only_when_its_class_is_configured(check: ImageCheck) -> None:
    detections = check.classify(photo_bytes(FACE))
    assert any(d.label == "FACE_FEMALE" and d.score >= 0.5 for d in detections), detections
    assert check.verdict(detections, 0.5) is None, "a face is not one of the default classes"
    faces = ImageCheck(("FACE_FEMALE",))
    found = faces.verdict(faces.classify(photo_bytes(FACE, "JPEG", side=1024)), 0.5)
    assert found is not None and found.label == "FACE_FEMALE" and found.words == "face female"
    assert faces.verdict(faces.classify(photo_bytes(FACE)), 0.95) is None, "below the threshold it passes"


@pytest.mark.parametrize("name", BENIGN)
def test_benign_photographs_pass_with_the_default_classes(check: ImageCheck, name: str) -> None:
    detections = check.classify(photo_bytes(name))
    assert check.verdict(detections, load_settings_threshold()) is None, (name, detections)


@pytest.mark.parametrize("data", [
    make_png(1024, 1024), make_jpeg(1024, 1024), make_webp(640, 640),
    encode(gradient(1024, 1024, (200, 170, 150)), "PNG"),  # a skin-like tone, as the fake paints prompts
    encode(gradient(64, 64, (120, 40, 200)), "WEBP"),
], ids=["png", "jpeg", "webp", "skin-tone", "small-webp"])
def test_the_fake_pixazos_images_pass(check: ImageCheck, data: bytes) -> None:
    assert check.verdict(check.classify(data), load_settings_threshold()) is None


def test_an_unreadable_image_is_a_failure_not_a_pass(check: ImageCheck) -> None:
    with pytest.raises(ImageCheckFailed, match="could not be decoded"):
        check.classify(b"\x89PNG\r\n\x1a\n" + b"\x00" * 100)


async def test_a_check_past_its_deadline_fails(check: ImageCheck) -> None:
    offload, release = Offload(1), threading.Event()
    holder = asyncio.ensure_future(offload.run(release.wait, timeout=10))  # the one image thread is busy
    await asyncio.sleep(0.05)
    try:
        with pytest.raises(ImageCheckFailed, match="no answer within 0.2 s"):
            await screen(check, offload, photo_bytes(FACE), threshold=0.5, timeout=0.2)
    finally:
        release.set()
        await holder
        offload.close()


def test_the_classes_setting_is_checked_against_the_models_classes() -> None:
    assert len(CLASSES) == 18 and set(DEFAULT_CLASSES) <= set(CLASSES)
    settings = load_settings(discord_token="t", pixazo_api_key="k", _env_file=None,
                             image_check_classes="face_female, FEET_EXPOSED")
    assert settings.image_check_classes == ("FACE_FEMALE", "FEET_EXPOSED")
    with pytest.raises(Exception, match="unknown class 'NOSE'"):
        load_settings(discord_token="t", pixazo_api_key="k", _env_file=None, image_check_classes="NOSE")


def _encoded(image: Image.Image, fmt: str) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt)
    return out.getvalue()


def _faces(count: int, size: int) -> Image.Image:
    """`count`² copies of the photograph's face on a 1024² canvas, overlapping when they must."""
    face = photo(FACE).resize((size, size))
    canvas = Image.new("RGB", (1024, 1024), (90, 90, 90))
    step = (1024 - size) // max(1, count - 1)
    for i in range(count):
        for j in range(count):
            canvas.paste(face, (i * step, j * step))
    return canvas


def _samples() -> dict[str, bytes]:
    found = {f"face-{fmt}": photo_bytes(FACE, fmt) for fmt in ("PNG", "JPEG", "WEBP")}
    found |= {f"{name}-png": photo_bytes(name) for name in BENIGN[:4] + ("moon", "camera")}
    see_through = photo(FACE).convert("RGBA")
    see_through.putalpha(Image.linear_gradient("L").resize(see_through.size))
    found |= {
        "face-1024-png": photo_bytes(FACE, "PNG", side=1024),
        "wide-png": _encoded(photo(FACE).resize((700, 400)), "PNG"),  # padded at the bottom
        "tall-jpeg": _encoded(photo(FACE).resize((300, 650)), "JPEG"),  # padded at the right
        "rgba-png": _encoded(see_through, "PNG"),
        "rgba-webp": _encoded(see_through, "WEBP"),
        "overlapping-faces": _encoded(_faces(3, 400), "PNG"),  # boxes that non-maximum suppression thins
        "four-faces": _encoded(_faces(2, 512), "JPEG"),
        "skin-tone": encode(gradient(1024, 1024, (200, 170, 150)), "PNG"),
    }
    return found


def test_the_detections_are_nudenets_own(check: ImageCheck) -> None:
    # The check decodes, resizes and reads boxes its own (quicker) way; what it finds must be exactly
    # what NudeNet's `detect` finds, classes, scores and boxes alike, on the bytes as NudeNet reads them.
    from nudenet import NudeDetector

    nudenet = NudeDetector()
    model = check._model
    assert model is not None
    detected = 0
    for name, data in _samples().items():
        ours = model.detect(*model.decode(data))
        assert ours == nudenet.detect(data), name
        detected += len(ours)
    assert detected >= 12, "the samples exercise detections, several in one image"
    # GIF (which OpenCV does not read) is decoded by Pillow: compared with NudeNet given those pixels.
    gif = _encoded(_faces(2, 512), "GIF")
    pixels, bgr = model.decode(gif)
    assert not bgr and model.detect(pixels, bgr) == nudenet.detect(pixels[:, :, ::-1].copy())


def test_one_model_serves_every_image_thread(check: ImageCheck) -> None:
    # Loaded once and shared: four checks on two threads at once answer as one at a time does.
    model = check._model
    data = [photo_bytes(FACE, "JPEG"), _encoded(_faces(2, 512), "PNG"), photo_bytes("coffee", "WEBP"),
            photo_bytes(FACE, "PNG")]
    alone = [check.classify(image) for image in data]
    with ThreadPoolExecutor(2) as pool:
        together = list(pool.map(check.classify, data * 2))
    assert together == alone * 2
    check.load()
    assert check._model is model


def load_settings_threshold() -> float:
    return load_settings(discord_token="t", pixazo_api_key="k", _env_file=None).image_check_threshold
