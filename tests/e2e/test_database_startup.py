"""DATABASE_URL at start: a malformed one or an unreachable server stops the bot with one line,
the password never shown; a good one runs the bot on PostgreSQL."""

from __future__ import annotations

import logging
import socket

import asyncpg
import pytest

from tests.conftest import PIXAZO_KEY, TOKEN, _Collect, make_settings, started_bot
from tests.e2e.test_startup import BASE_ENV, run_bot

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


def one_line_exit(tmp_path, url: str, code: int) -> str:
    """Start `python -m bot` on this DATABASE_URL: it stops with `code` and one line, never the password."""
    result = run_bot({**BASE_ENV, "DATABASE_URL": url, "DATA_DIR": str(tmp_path)}, cwd=tmp_path)
    assert result.returncode == code, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for secret in (PASSWORD, TOKEN, PIXAZO_KEY):
        assert secret not in result.stderr + result.stdout
    return lines[0]


# Exit 2 is "fix it first": the systemd unit (RestartPreventExitStatus=2) and an operator reading the exit
# status do not retry. Exit 1 is "try again later" and is kept for a server that is down or unreachable.

async def test_an_unknown_user_exits_2(tmp_path, postgres_server):
    # The test server trusts every local connection, so ask for a role that does not exist.
    line = one_line_exit(tmp_path, f"postgresql://nobody_here:{PASSWORD}@127.0.0.1:{postgres_server.port}/postgres", 2)
    assert "DATABASE_URL" in line and "nobody_here" in line and "does not let this user in" in line, line


async def test_a_wrong_password_exits_2(tmp_path, postgres_server, password_role):
    user, _ = password_role
    line = one_line_exit(tmp_path, f"postgresql://{user}:{PASSWORD}@127.0.0.1:{postgres_server.port}/postgres", 2)
    assert "the password is wrong" in line and f"{user}@127.0.0.1:{postgres_server.port}/postgres" in line, line


async def test_an_unknown_database_exits_2(tmp_path, postgres_server):
    line = one_line_exit(tmp_path, f"postgresql://postgres:{PASSWORD}@127.0.0.1:{postgres_server.port}/no_such_db", 2)
    assert "there is no database of that name" in line and "no_such_db" in line, line


def test_a_password_with_an_unencoded_at_sign_exits_2_and_says_to_percent_encode_it(tmp_path):
    line = one_line_exit(tmp_path, f"postgresql://bot:{PASSWORD}@x@127.0.0.1:5432/ledger", 2)
    assert line.startswith("bot: setting DATABASE_URL is invalid") and "%40" in line, line
    assert "Name or service not known" not in line


async def test_the_log_names_the_ledger_at_start_without_its_password(tmp_path, fake_discord, fake_pixazo,
                                                                      postgres_server, password_role):
    user, password = password_role
    name = await postgres_server.create_database()
    conn = await asyncpg.connect(postgres_server.url())
    await conn.execute(f'ALTER DATABASE "{name}" OWNER TO {user}')
    await conn.close()
    records: list[logging.LogRecord] = []
    handler = _Collect(records)
    root = logging.getLogger()
    root.addHandler(handler)
    old_level = root.level
    root.setLevel(logging.INFO)
    try:
        url = f"postgresql://{user}:{password}@127.0.0.1:{postgres_server.port}/{name}"
        async with started_bot(make_settings(tmp_path, fake_discord, fake_pixazo, database_url=url), fake_discord):
            pass
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
        await postgres_server.drop_database(name)
    said = [(r.levelno, r.getMessage()) for r in records if r.getMessage().startswith("ledger: ")]
    assert said == [(logging.INFO, f"ledger: PostgreSQL at {user}@127.0.0.1:{postgres_server.port}/{name}")]
    assert not any(password in f"{r.getMessage()} {r.exc_text or ''}" for r in records)


def test_a_host_name_that_does_not_exist_exits_2(tmp_path):
    host = "no-such-host.invalid"
    try:
        socket.getaddrinfo(host, 5432)
    except socket.gaierror as exc:
        if exc.errno != socket.EAI_NONAME:
            pytest.skip(f"this machine's resolver cannot say the name does not exist ({exc})")
    line = one_line_exit(tmp_path, f"postgresql://bot:{PASSWORD}@{host}:5432/ledger", 2)
    assert f"the host name '{host}' is not known" in line, line
