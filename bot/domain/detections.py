"""What the image check's detector can name: its classes, and one detection of them. The detector
itself is bot/moderation/image_check.py; the settings (IMAGE_CHECK_CLASSES) and the services read these."""

from __future__ import annotations

from dataclasses import dataclass

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


@dataclass(frozen=True)
class Detection:
    label: str  # one of CLASSES
    score: float  # 0..1

    @property
    def words(self) -> str:
        """ "FEMALE_BREAST_EXPOSED" as "female breast exposed", for a sentence."""
        return self.label.lower().replace("_", " ")
