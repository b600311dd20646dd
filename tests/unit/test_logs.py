"""The log handler `python -m bot` installs: no secret in what it writes, traceback included."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
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


# -- LOG_FORMAT=json ---------------------------------------------------------------------------------

QUOTED = 'pa"ss\\word-with-quotes-0123'  # JSON escapes it: the encoded line alone would not show it whole


def json_lines(emit, *, shard: str | None = "all") -> list[dict]:
    stream = io.StringIO()
    log = logging.getLogger("tests.logs.json")
    log.propagate = False
    log.setLevel(logging.INFO)
    handler = logs.handler(stream, (TOKEN, PIXAZO_KEY, QUOTED), fmt="json", shard=shard)
    log.addHandler(handler)
    try:
        emit(log)
    finally:
        log.removeHandler(handler)
    text = stream.getvalue()
    for secret in (TOKEN, PIXAZO_KEY, QUOTED, json.dumps(QUOTED)[1:-1]):
        assert secret not in text
    return [json.loads(line) for line in text.splitlines()]


def test_json_lines_have_time_level_logger_message_and_the_ids_the_task_is_about():
    async def job() -> list[dict]:
        logs.bind(job=7, server=2000, member=4000)
        return json_lines(lambda log: log.info("job %d done", 7))

    async def elsewhere() -> list[dict]:
        return json_lines(lambda log: log.warning("nothing bound here"))

    async def both() -> tuple[list[dict], list[dict]]:
        # Each task binds its own: one job's ids never reach another task's lines.
        return await asyncio.gather(job(), elsewhere())  # type: ignore[return-value]

    (line,), (other,) = asyncio.run(both())
    assert set(line) == {"time", "level", "logger", "message", "job", "server", "member", "shard"}
    assert (line["level"], line["logger"], line["message"]) == ("INFO", "tests.logs.json", "job 7 done")
    assert (line["job"], line["server"], line["member"], line["shard"]) == (7, 2000, 4000, "all")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", line["time"])
    assert set(other) == {"time", "level", "logger", "message", "shard"}


def test_json_redacts_every_field_a_secret_reaches():
    def emit(log: logging.Logger) -> None:
        log.warning("key %s token %r quoted %s", PIXAZO_KEY, TOKEN, QUOTED,
                    extra={"reason": f"the gateway echoed {PIXAZO_KEY}", "body": {"auth": [TOKEN, QUOTED]},
                           "url": f"https://discord.test/api/v10/webhooks/1/{'t' * 40}/messages/@original"})
        try:
            _fail_with_secrets()
        except RuntimeError:
            log.exception("failed with %s", QUOTED)

    first, second = json_lines(emit)
    assert first["message"] == "key [redacted] token '[redacted]' quoted [redacted]"
    assert first["reason"] == "the gateway echoed [redacted]"
    assert first["body"] == {"auth": ["[redacted]", "[redacted]"]}
    assert first["url"].endswith("/webhooks/1/[redacted]/messages/@original"), "an interaction token too"
    assert second["message"] == "failed with [redacted]"
    assert "RuntimeError: login failed with [redacted]" in second["exc"]
    assert "the gateway said [redacted]" in second["exc"]
