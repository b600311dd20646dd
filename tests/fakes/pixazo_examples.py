"""The Pixazo document's example requests, what the fake must answer to each, and how the fake's
self-tests (test_fake_pixazo.py) send them: a plain aiohttp client, no bot code involved."""

from __future__ import annotations

import json

KEY = "test-pixazo-key"

SD3 = "/sd3/v1/getData"
SD35 = "/sd3-5/v1/r-sd-3-5-large"
SDXL = "/getImage/v1/getSDXLImage"
LIGHTNING = "/sdxl_lightning/getImage/v1/getSDXLImage"
LIGHTNING_STREAM = "/sdxl_lightning/getImage/v1/getSDXLImageStream"
INPAINT = "/inpainting/v1/getImage"
INPAINT_STREAM = "/inpainting/v1/getImageStream"

# ---- The document's example request bodies, copied verbatim --------------------------------------

SPARROW = (
    "High-resolution, realistic image of a sparrow bird perched on a blooming cherry blossom branch during "
    "springtime. The sparrow feathers should be finely detailed with natural colors, including shades of "
    "brown and white. The background should be soft-focused with a clear blue sky, creating a serene and "
    "peaceful atmosphere."
)
SPARROW_NEGATIVE = (
    "Low-quality, blurry image, with any other birds or animals. Avoid abstract or cartoonish styles, dark "
    "or gloomy atmosphere, unnecessary objects or distractions in the background, harsh lighting, and "
    "unnatural colors."
)

EXAMPLES = {
    SD3: {
        "prompt": "Picture a sleek, futuristic car racing through a neon-lit cityscape, its engine humming "
        "efficiently as it blurs past digital billboards. The driver skillfully navigates the glowing "
        "streets, aiming for victory in this high-tech, adrenaline-fueled race of tomorrow.",
        "negativePrompt": "dark, blurry",
        "steps": 28,
        "cfg": 4.0,
        "aspect_ratio": "3:2",
        "output_format": "jpg",
        "output_quality": 90,
        "prompt_strength": 0.85,
    },
    SD35: {
        "prompt": "~*~aesthetic~*~ #boho #fashion, full-body 30-something woman laying on microfloral grass, "
        "candid pose, overlay reads Stable Diffusion 3.5, cheerful cursive typography font",
        "aspect_ratio": "1:1",
        "cfg": 4.5,
        "steps": 40,
        "output_format": "webp",
        "output_quality": 90,
        "prompt_strength": 0.85,
    },
    SDXL: {
        "prompt": SPARROW,
        "negative_prompt": SPARROW_NEGATIVE,
        "height": 1024,
        "width": 1024,
        "num_steps": 20,
        "guidance_scale": 5,
        "seed": 40,
    },
    LIGHTNING: {
        "prompt": SPARROW,
        "negativePrompt": SPARROW_NEGATIVE,
        "height": 1024,
        "width": 1024,
        "num_steps": 20,
        "guidance": 5,
        "seed": 42,
    },
    # The inpainting URLs point at the document's r2.dev host; tests swap in the local asset server.
    INPAINT: {
        "prompt": "Change to a lion",
        "imageUrl": "https://pub-1fb693cb11cc46b2b2f656f51e015a2c.r2.dev/dog.png",
        "maskUrl": "https://pub-1fb693cb11cc46b2b2f656f51e015a2c.r2.dev/dog-mask.png",
        "negative_prompt": "watermark",
        "height": 1024,
        "width": 1024,
        "num_steps": 20,
        "guidance": 5,
        "seed": 42,
    },
    INPAINT_STREAM: {
        "prompt": "Change to a lion",
        "imageUrl": "https://pub-1fb693cb11cc46b2b2f656f51e015a2c.r2.dev/dog.png",
        "maskUrl": "https://pub-1fb693cb11cc46b2b2f656f51e015a2c.r2.dev/dog-mask.png",
        "negativePrompt": "watermark",
        "height": 1024,
        "width": 1024,
        "num_steps": 20,
        "guidance": 5,
        "seed": 42,
    },
}
EXAMPLES[LIGHTNING_STREAM] = dict(EXAMPLES[LIGHTNING])  # the document's stream example is identical

# (response keys, image format, image size) the fake must give for each example.
EXPECTED = {
    SD3: ({"output"}, "JPEG", (78, 52)),  # 3:2 at about a megapixel, divided by 16
    SD35: ({"id", "status", "output"}, "WEBP", (64, 64)),
    SDXL: ({"imageUrl"}, "PNG", (64, 64)),
    LIGHTNING: ({"imageUrl"}, "PNG", (64, 64)),
    LIGHTNING_STREAM: ({"imageUrl"}, "PNG", (64, 64)),
    INPAINT: ({"imageUrl"}, "PNG", (64, 64)),
    INPAINT_STREAM: ({"imageUrl"}, "PNG", (64, 64)),
}

# The smallest valid body per endpoint, for tests about one field at a time.
MINIMAL = {
    SD3: {"prompt": "a cat"},
    SD35: {k: v for k, v in EXAMPLES[SD35].items() if k != "prompt"} | {"prompt": "a cat"},
    SDXL: {"prompt": "a cat"},
    LIGHTNING: {"prompt": "a cat"},
    LIGHTNING_STREAM: {"prompt": "a cat"},
    INPAINT: {"prompt": "a cat"},
    INPAINT_STREAM: {"prompt": "a cat"},
}

DOG_SIZE = (48, 32)


# ---- Sending them ---------------------------------------------------------------------------------


def with_local_inputs(body: dict, assets) -> dict:
    body = dict(body)
    for name in ("imageUrl", "maskUrl"):
        if name in body:
            body[name] = assets.base + "/" + body[name].rsplit("/", 1)[-1]
    return body


async def post(http, fake, path, body, key=KEY, **kwargs):
    """POST like the document's examples; returns (status, headers, body bytes)."""
    headers = {"Content-Type": "application/json", "Cache-Control": "no-cache"}
    if key is not None:
        headers["Ocp-Apim-Subscription-Key"] = key
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    async with http.post(fake.url(path), data=data, headers=headers, **kwargs) as resp:
        return resp.status, resp.headers, await resp.read()


async def get(http, url):
    async with http.get(url) as resp:
        return resp.status, resp.headers, await resp.read()


def result_url(path: str, payload: dict) -> str:
    return payload["output"] if path in (SD3, SD35) else payload["imageUrl"]
