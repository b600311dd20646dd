"""The image check: a result is classified before it is posted in a channel that is not age-restricted.

NudeNet's detector (an ONNX model inside the `nudenet` package, run by onnxruntime) names exposed and
covered body parts and faces, each with a score. A detection of one of IMAGE_CHECK_CLASSES at or above
the server's threshold holds the image back. The package is optional (`pip install ".[image-check]"`):
without it the bot runs as before and /config show says the check is unavailable.

What the model is given and how its answer is read are NudeNet's (`NudeDetector.detect`), done the
same way on OpenCV, which NudeNet requires anyway (its metadata needs opencv-python-headless): the
image padded to a square, resized to the model's 320² with OpenCV's bilinear resize, scaled to 0..1
(the planes in NudeNet's order), and the model's boxes kept past a score of 0.2 and thinned by
OpenCV's non-maximum suppression. tests/test_image_check.py checks that the detections are
exactly NudeNet's own. Only the cost differs:

- the image is decoded once, by OpenCV for PNG, JPEG and WebP (as NudeNet decodes bytes, and faster
  than Pillow), by Pillow for the rest (GIF, the first frame of an animation); Pillow reads the header
  first, which refuses decompression bombs;
- it is resized to 320² before it becomes floats, instead of converting the full image;
- the boxes are read with numpy, not one Python step per box (2,100 of them);
- one onnxruntime session per process, shared by the image threads (its `run` is thread-safe), each
  run on one thread: IMAGE_WORKERS checks run at once without fighting over the cores.

Discord-free and blocking: the courier runs `classify` on the image pool (bot/core/offload.py).
"""

from __future__ import annotations

import io
import logging
import os
import threading
from importlib.util import find_spec
from typing import Any

from PIL import Image

from bot.core.i18n import Text, _
from bot.core.offload import Offload, OffloadTimeout
from bot.domain.detections import CLASSES, Detection

log = logging.getLogger(__name__)

NOT_INSTALLED = _('not installed on this bot (its operator can add it with pip install ".[image-check]")')
TURNED_OFF = _("turned off by the bot's operator (IMAGE_CHECK)")


class ImageCheckFailed(Exception):
    """The image could not be classified (unreadable, or the model failed); `detail` says why."""


def _installed() -> bool:
    try:
        return find_spec("nudenet") is not None
    except (ImportError, ValueError):  # ValueError: a module entry of None, as a failed import leaves
        return False


class _Model:
    """NudeNet's model in an onnxruntime session of our own options, with NudeNet's preprocessing and box
    handling (see the module's docstring). Thread-safe."""

    SIDE = 320  # the model's input (NudeNet's "320n.onnx")
    MIN_SCORE = 0.2  # NudeNet's floor for a box
    NMS_SCORE, NMS_OVERLAP = 0.25, 0.45  # NudeNet's non-maximum suppression

    def __init__(self) -> None:
        import cv2
        import nudenet
        import numpy as np
        import onnxruntime

        self._cv2, self._np = cv2, np
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1  # one core per check; the image threads are the parallelism
        options.inter_op_num_threads = 1
        options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        path = os.path.join(os.path.dirname(nudenet.__file__), "320n.onnx")  # NudeDetector's own model
        self._session = onnxruntime.InferenceSession(path, sess_options=options, providers=["CPUExecutionProvider"])
        self._input = self._session.get_inputs()[0].name

    def decode(self, data: bytes) -> tuple[Any, bool]:
        """The image's pixels (height × width × 3, uint8) and whether they are in BGR order (else RGB)."""
        cv2, np = self._cv2, self._np
        with Image.open(io.BytesIO(data)) as image:  # the header: the format, and no decompression bomb
            if image.format in ("PNG", "JPEG", "WEBP") and not getattr(image, "is_animated", False):
                flags = cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION  # as NudeNet reads bytes
                pixels = cv2.imdecode(np.frombuffer(data, np.uint8), flags)
                if pixels is not None:
                    return pixels, True
            image.seek(0)  # the first frame of an animation is what Discord shows still
            return np.asarray(image.convert("RGB")), False

    def detect(self, pixels: Any, bgr: bool) -> list[dict[str, Any]]:
        """NudeNet's detections (`NudeDetector.detect`'s dicts: class, score, box) for decoded pixels."""
        cv2, np = self._cv2, self._np
        height, width = pixels.shape[:2]
        side = max(height, width)
        x_pad, y_pad = side - width, side - height
        if x_pad or y_pad:  # NudeNet pads to a square, black at the right and the bottom
            pixels = cv2.copyMakeBorder(pixels, 0, y_pad, 0, x_pad, cv2.BORDER_CONSTANT)
        # `blobFromImage` resizes this way itself; done first, the float conversion is of 320² only.
        small = cv2.resize(pixels, (self.SIDE, self.SIDE), interpolation=cv2.INTER_LINEAR)
        # NudeNet hands the model the planes B, G, R (it swaps BGR to RGB, then swaps back in the blob).
        blob = cv2.dnn.blobFromImage(small, 1 / 255.0, (self.SIDE, self.SIDE), (0, 0, 0), swapRB=not bgr,
                                     crop=False)
        output = self._session.run(None, {self._input: blob})[0]
        rows = np.transpose(np.squeeze(output))  # one row per box: x, y, w, h (centre), then a score per class
        scores = rows[:, 4:]
        best = scores.max(axis=1)
        kept = np.flatnonzero(best >= self.MIN_SCORE)
        if kept.size == 0:
            return []
        ids = scores[kept].argmax(axis=1)
        x, y, w, h = (rows[kept, i] for i in range(4))
        # NudeNet's arithmetic, on float32 as it does it: corner, scaled to the padded image, clipped.
        x = (x - w / 2) * (width + x_pad) / self.SIDE
        y = (y - h / 2) * (height + y_pad) / self.SIDE
        w = w * (width + x_pad) / self.SIDE
        h = h * (height + y_pad) / self.SIDE
        x = np.maximum(0, np.minimum(x, width))
        y = np.maximum(0, np.minimum(y, height))
        w = np.minimum(w, width - x)
        h = np.minimum(h, height - y)
        boxes = np.stack([x, y, w, h], axis=1).tolist()
        kept_scores = best[kept].tolist()
        chosen = cv2.dnn.NMSBoxes(boxes, kept_scores, self.NMS_SCORE, self.NMS_OVERLAP)
        return [{"class": CLASSES[ids[i]], "score": kept_scores[i], "box": [int(v) for v in boxes[i]]}
                for i in np.asarray(chosen, dtype=int).reshape(-1)]


class ImageCheck:
    """The detector, loaded once on first use (on whichever image thread gets there first) and shared."""

    def __init__(self, classes: tuple[str, ...], *, enabled: bool = True) -> None:
        self.classes = frozenset(classes)
        self._model: _Model | None = None
        self._lock = threading.Lock()
        self.problem: Text | None = TURNED_OFF if not enabled else None if _installed() else NOT_INSTALLED

    @property
    def available(self) -> bool:
        return self.problem is None

    def load(self) -> None:
        """Import NudeNet and open its model (about half a second); blocking, idempotent."""
        if self._model is not None or not self.available:
            return
        with self._lock:
            if self._model is not None:
                return
            try:
                self._model = _Model()
            except ImportError as exc:
                self.problem = NOT_INSTALLED
                log.warning("the image check is unavailable: %s", exc)
                return
            log.info("the image check's model is loaded")

    def classify(self, data: bytes) -> list[Detection]:
        """Every detection NudeNet makes in the image (its own floor is a score of 0.2). Blocking."""
        self.load()
        model = self._model
        if model is None:
            raise ImageCheckFailed(f"the image check is {self.problem}")
        try:
            pixels, bgr = model.decode(data)
        except Exception as exc:
            raise ImageCheckFailed(f"the image could not be decoded: {type(exc).__name__}: {exc}") from None
        try:
            found = model.detect(pixels, bgr)
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
