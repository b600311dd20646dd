"""The log handler `python -m bot` installs: no secret in what it writes, traceback included."""

from __future__ import annotations

import io
import logging
import sys

from bot.core import logs
from tests.conftest import PIXAZO_KEY, TOKEN


def written(emit) -> str:
    stream = io.StringIO()
    log = logging.getLogger("tests.logs.redaction")
    log.propagate = False
    handler = logs.handler(stream, (TOKEN, PIXAZO_KEY))
    log.addHandler(handler)
    try:
        emit(log)
    finally:
        log.removeHandler(handler)
    return stream.getvalue()


def _fail_with_secrets() -> None:
    try:
        raise KeyError(f"the gateway said {PIXAZO_KEY}")
    except KeyError as cause:
        raise RuntimeError(f"login failed with {TOKEN}") from cause


def test_a_secret_inside_an_exception_is_redacted_in_the_traceback():
    def emit(log: logging.Logger) -> None:
        try:
            _fail_with_secrets()
        except RuntimeError:
            log.exception("the call failed")

    text = written(emit)
    assert "Traceback" in text and "RuntimeError: login failed with [redacted]" in text
    assert "KeyError: 'the gateway said [redacted]'" in text, "the chained cause is redacted too"
    assert TOKEN not in text and PIXAZO_KEY not in text


def test_message_arguments_and_stack_info_are_redacted():
    def emit(log: logging.Logger) -> None:
        log.warning("key %s token %r", PIXAZO_KEY, TOKEN)
        record = log.makeRecord(log.name, logging.WARNING, __file__, 1, "with a stack", None, None,
                                sinfo=f"Stack (most recent call last):\n  secret={TOKEN}")
        log.handle(record)

    text = written(emit)
    assert "key [redacted] token '[redacted]'" in text and "secret=[redacted]" in text
    assert TOKEN not in text and PIXAZO_KEY not in text


def test_configure_installs_the_redacting_handler(capsys):
    root = logging.getLogger()
    saved, level = root.handlers[:], root.level
    try:
        logs.configure("INFO", (TOKEN, PIXAZO_KEY))
        try:
            _fail_with_secrets()
        except RuntimeError:
            logging.getLogger("tests.logs.configured").error("failed", exc_info=True)
        sys.stderr.flush()
    finally:
        root.handlers[:] = saved
        root.setLevel(level)
    err = capsys.readouterr().err
    assert "login failed with [redacted]" in err and "the gateway said [redacted]" in err
    assert TOKEN not in err and PIXAZO_KEY not in err
