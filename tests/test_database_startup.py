"""DATABASE_URL at start: a malformed one or an unreachable server stops the bot with one line,
the password never shown; a good one runs the bot on PostgreSQL."""

from __future__ import annotations

import socket

import pytest

from tests.conftest import PIXAZO_KEY, TOKEN
from tests.test_startup import BASE_ENV, run_bot

PASSWORD = "hunter2-db-password"


@pytest.mark.parametrize("url", [
    f"mysql://bot:{PASSWORD}@db.example:3306/bot",
    f"postgresql://bot:{PASSWORD}@/bot",
    f"postgresql://bot:{PASSWORD}@db.example:5432/",
    f"postgresql://bot:{PASSWORD}@db.example:port/bot",
    f"bot:{PASSWORD}@db.example/bot",
])
def test_a_malformed_database_url_stops_the_bot_with_one_line(tmp_path, url):
    result = run_bot({**BASE_ENV, "DATABASE_URL": url}, cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("bot: setting DATABASE_URL is invalid"), lines[0]
    assert "postgresql://" in lines[0], "it says what a good one looks like"
    for secret in (PASSWORD, TOKEN, PIXAZO_KEY):
        assert secret not in result.stderr + result.stdout


def test_an_unreachable_database_stops_the_bot_with_one_line(tmp_path):
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"postgresql://bot:{PASSWORD}@127.0.0.1:{port}/ledger"
    result = run_bot({**BASE_ENV, "DATABASE_URL": url, "DATA_DIR": str(tmp_path)}, cwd=tmp_path)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "DATABASE_URL" in lines[0] and f"bot@127.0.0.1:{port}/ledger" in lines[0], lines[0]
    assert "Traceback" not in result.stderr
    assert PASSWORD not in result.stderr + result.stdout


async def test_a_refused_login_stops_the_bot_without_showing_the_password(tmp_path, postgres_server):
    # The test server trusts every local connection, so ask for a role that does not exist instead.
    url = f"postgresql://nobody_here:{PASSWORD}@127.0.0.1:{postgres_server.port}/postgres"
    result = run_bot({**BASE_ENV, "DATABASE_URL": url, "DATA_DIR": str(tmp_path)}, cwd=tmp_path)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "DATABASE_URL" in lines[0] and "nobody_here" in lines[0], lines[0]
    assert PASSWORD not in result.stderr + result.stdout
