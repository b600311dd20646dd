"""The switches a test turns: how the next calls (or every call) are answered."""

from __future__ import annotations

import enum


class Behaviour(enum.Enum):
    OK = "ok"
    LATENCY = "latency"  # same answer as OK; every answer already waits `fake.latency` seconds
    RATE_LIMITED = "rate_limited"  # 429, Retry-After when a retry_after was given
    SERVER_ERROR = "server_error"  # 500
    BAD_GATEWAY = "bad_gateway"  # 502
    HANG = "hang"  # never answers (until the fake closes)
    MALFORMED_JSON = "malformed_json"  # 200, application/json, body not JSON
    UNEXPECTED_SHAPE = "unexpected_shape"  # 200, {"foo": 1}
    EMPTY_URL = "empty_url"  # 200, url field ""
    NOT_SUCCEEDED = "not_succeeded"  # SD3.5: status "failed"; elsewhere same as EMPTY_URL
    RAW_BYTES = "raw_bytes"  # 200, the image itself as the body (any endpoint)
    IMAGE_404 = "image_404"  # 200, URL that 404s
    OVERSIZED = "oversized"  # 200, URL to a body larger than fake.oversize_bytes
    NOT_AN_IMAGE = "not_an_image"  # 200, URL serving text/html
    FORBIDDEN = "forbidden"  # 403
    UNAUTHORIZED = "unauthorized"  # 401
    NOT_FOUND = "not_found"  # 404
    BAD_REQUEST = "bad_request"  # 400 {"error": fake.bad_request_message}
    ECHO_KEY = "echo_key"  # 400 whose message echoes the subscription-key header, as API gateways do
    LONG_STATUS = "long_status"  # SD3.5: a status of fake.long_status_chars characters; elsewhere EMPTY_URL
    TRUNCATED = "truncated"  # a real image cut to half its bytes (by URL, or raw on stream paths)
    REDIRECT = "redirect"  # 200, URL that redirects fake.redirect_hops times before the image
    REDIRECT_TO_HTTP = "redirect_to_http"  # 200, https URL (needs tls=) that redirects to the http image
    LOCALHOST_URL = "localhost_url"  # 200, URL naming the host "localhost" instead of 127.0.0.1


# Behaviours that make a real image (and then maybe spoil it or hide it behind a detour).
IMAGE_BEHAVIOURS = frozenset({Behaviour.OK, Behaviour.LATENCY, Behaviour.RAW_BYTES, Behaviour.TRUNCATED,
                               Behaviour.REDIRECT, Behaviour.REDIRECT_TO_HTTP, Behaviour.LOCALHOST_URL})
