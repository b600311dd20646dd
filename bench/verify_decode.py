"""What checking a result costs: bot.pixazo.verify.decode_fully on the sizes Pixazo returns.

    python bench/verify_decode.py

Prints the median time of a full decode per format and size, on one core.
"""

from __future__ import annotations

import io
import statistics
import sys
import time
from pathlib import Path

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.pixazo.verify import decode_fully  # noqa: E402


def sample(side: int, fmt: str) -> bytes:
    # Gradients with noise on top, so files are about as large as generated pictures (a flat
    # gradient would compress to a few KiB and decode unrealistically fast).
    ramp = Image.linear_gradient("L").resize((side, side))
    noise = Image.effect_noise((side, side), 40)
    img = Image.merge("RGB", [Image.blend(ramp.rotate(a), noise, 0.3) for a in (0, 90, 180)])
    out = io.BytesIO()
    img.save(out, fmt, **({"quality": 90} if fmt != "PNG" else {}))
    return out.getvalue()


def main() -> None:
    for side in (1024, 2048):
        for fmt in ("PNG", "JPEG", "WEBP"):
            data = sample(side, fmt)
            times = []
            for _ in range(7):
                started = time.perf_counter()
                decode_fully(data)
                times.append(time.perf_counter() - started)
            print(f"{fmt:5} {side}x{side} {len(data) / 1024:8.0f} KiB  median {statistics.median(times) * 1000:6.1f} ms")


if __name__ == "__main__":
    main()
