"""The image check: a result is classified before it is posted in a channel that is not age-restricted.

NudeNet's detector (an ONNX model inside the `nudenet` package, run by onnxruntime) names exposed and
covered body parts and faces, each with a score. A detection of one of IMAGE_CHECK_CLASSES at or above
the server's threshold holds the image back. The package is optional (`pip install ".[image-check]"`):
without it the bot runs as before and /config show says the check is unavailable.

NudeNet's own preprocessing and box handling are used as they are (its `detect`): the package needs
OpenCV either way (its metadata requires opencv-python-headless), so doing them again on Pillow
would save nothing in the install and could only drift from what the model was trained with. The
image is decoded by Pillow (the formats Pixazo answers in, GIF and WebP included) and handed over as
the BGR array `cv2.imread` would give.

Discord-free and blocking: the courier runs `classify` on the image pool (bot/offload.py).
"""

from __future__ import annotations

import io
import logging
import threading
from dataclasses import dataclass
from importlib.util import find_spec
from typing import Any

from PIL import Image

from bot.offload import Offload, OffloadTimeout

log = logging.getLogger(__name__)

# The detector's classes, as NudeNet names them (its model's outputs, in its own order).
CLASSES = (
    "FEMALE_GENITALIA_COVERED", "FACE_FEMALE", "BUTTOCKS_EXPOSED", "FEMALE_BREAST_EXPOSED",
    "FEMALE_GENITALIA_EXPOSED", "MALE_BREAST_EXPOSED", "ANUS_EXPOSED", "FEET_EXPOSED", "BELLY_COVERED",
    "FEET_COVERED", "ARMPITS_COVERED", "ARMPITS_EXPOSED", "FACE_MALE", "BELLY_EXPOSED",
    "MALE_GENITALIA_EXPOSED", "ANUS_COVERED", "FEMALE_BREAST_COVERED", "BUTTOCKS_COVERED",
)
# What holds an image by default: exposed genitals, breasts, buttocks and anus.
DEFAULT_CLASSES = ("FEMALE_GENITALIA_EXPOSED", "MALE_GENITALIA_EXPOSED", "FEMALE_BREAST_EXPOSED",
                   "BUTTOCKS_EXPOSED", "ANUS_EXPOSED")
NOT_INSTALLED = 'not installed on this bot (its operator can add it with pip install ".[image-check]")'
TURNED_OFF = "turned off by the bot's operator (IMAGE_CHECK)"


@dataclass(frozen=True)
class Detection:
    label: str  # one of CLASSES
    score: float  # 0..1

    @property
    def words(self) -> str:
        """ "FEMALE_BREAST_EXPOSED" as "female breast exposed", for a sentence."""
        return self.label.lower().replace("_", " ")


class ImageCheckFailed(Exception):
    """The image could not be classified (unreadable, or the model failed); `detail` says why."""


def _installed() -> bool:
    try:
        return find_spec("nudenet") is not None
    except (ImportError, ValueError):  # ValueError: a module entry of None, as a failed import leaves
        return False


class ImageCheck:
    """The detector, loaded once on first use (on whichever image thread gets there first)."""

    def __init__(self, classes: tuple[str, ...], *, enabled: bool = True) -> None:
        self.classes = frozenset(classes)
        self._detector: Any = None
        self._lock = threading.Lock()
        self.problem: str | None = TURNED_OFF if not enabled else None if _installed() else NOT_INSTALLED

    @property
    def available(self) -> bool:
        return self.problem is None

    def load(self) -> None:
        """Import NudeNet and open its model (about half a second); blocking, idempotent."""
        if self._detector is not None or not self.available:
            return
        with self._lock:
            if self._detector is not None:
                return
            try:
                from nudenet import NudeDetector
            except ImportError as exc:
                self.problem = NOT_INSTALLED
                log.warning("the image check is unavailable: %s", exc)
                return
            self._detector = NudeDetector()
            log.info("the image check's model is loaded")

    def classify(self, data: bytes) -> list[Detection]:
        """Every detection NudeNet makes in the image (its own floor is a score of 0.2). Blocking."""
        self.load()
        if self._detector is None:
            raise ImageCheckFailed(f"the image check is {self.problem}")
        try:
            with Image.open(io.BytesIO(data)) as image:
                image.seek(0)  # the first frame of an animation is what Discord shows still
                rgb = image.convert("RGB")
        except Exception as exc:
            raise ImageCheckFailed(f"the image could not be decoded: {type(exc).__name__}: {exc}") from None
        import numpy as np  # installed with the check (onnxruntime needs it)

        bgr = np.ascontiguousarray(np.asarray(rgb)[:, :, ::-1])
        try:
            found = self._detector.detect(bgr)
        except Exception as exc:
            raise ImageCheckFailed(f"the model failed: {type(exc).__name__}: {exc}") from None
        return [Detection(str(d["class"]), float(d["score"])) for d in found]

    def verdict(self, detections: list[Detection], threshold: float) -> Detection | None:
        """The highest-scoring detection that holds the image, if any."""
        holding = [d for d in detections if d.label in self.classes and d.score >= threshold]
        return max(holding, key=lambda d: d.score, default=None)


async def screen(check: ImageCheck, offload: Offload, data: bytes, *, threshold: float,
                 timeout: float) -> Detection | None:
    """The detection that holds this result back, or None to post it. Raises ImageCheckFailed when
    the check cannot say (the image unreadable, the model failing, or no answer within `timeout`):
    the caller then posts nothing. Off the event loop, on the image threads."""
    try:
        detections = await offload.run(check.classify, data, timeout=timeout)
    except OffloadTimeout as exc:
        raise ImageCheckFailed(f"no answer within {timeout:g} s: {exc}") from None
    found = check.verdict(detections, threshold)
    log.info("image check: %s", ", ".join(f"{d.label} {d.score:.2f}" for d in detections) or "nothing detected")
    return found
