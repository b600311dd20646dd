"""A throwaway TLS certificate for the fakes (tests/fakes/tls/), and contexts that use it."""

from __future__ import annotations

import ssl
from pathlib import Path

TLS_DIR = Path(__file__).resolve().parents[1] / "tls"
# A throwaway self-signed certificate for 127.0.0.1 and localhost, valid 2000-2126; test use only.
TLS_CERT, TLS_KEY = TLS_DIR / "cert.pem", TLS_DIR / "key.pem"


def tls_server_context() -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(TLS_CERT, TLS_KEY)
    return context


def tls_client_context() -> ssl.SSLContext:
    """A client context that trusts the fake's certificate (and nothing else)."""
    return ssl.create_default_context(cafile=str(TLS_CERT))
