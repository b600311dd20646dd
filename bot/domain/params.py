"""The body a job sent to Pixazo, read through its model's catalog entry: each model names its own
fields (`negativePrompt` here, `negative_prompt` there, `cfg` or `guidance_scale`), and the catalog is
the one place that knows them, so a job's params are read by option (`prompt`, `seed`) and by role
(the inpainting image and mask), whatever the model. A read-only mapping of the body as it was sent."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.catalog import MODELS, Model


@dataclass(frozen=True, eq=False)  # compared as the mapping it is: `params == {}` once forgotten
class Params(Mapping[str, Any]):
    model_key: str
    body: Mapping[str, Any] = field(default_factory=dict)  # field name -> value, exactly what Pixazo received

    @property
    def model(self) -> Model | None:
        return MODELS.get(self.model_key)

    def option(self, name: str, default: Any = None) -> Any:
        """The value of a slash option (`prompt`, `seed`...) under this model's own field name."""
        param = self.model.param(name) if self.model is not None else None
        return self.body.get(param.field if param is not None else name, default)

    @property
    def image_url(self) -> str | None:
        """Inpainting: the input image's address (None for other models)."""
        return self._url(self.model.image_field if self.model is not None else None)

    @property
    def mask_url(self) -> str | None:
        return self._url(self.model.mask_field if self.model is not None else None)

    def _url(self, name: str | None) -> str | None:
        value = self.body.get(name) if name else None
        return value if isinstance(value, str) and value else None

    def __getitem__(self, key: str) -> Any:
        return self.body[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.body)

    def __len__(self) -> int:
        return len(self.body)
