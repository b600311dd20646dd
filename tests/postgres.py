"""A throwaway PostgreSQL server on 127.0.0.1 for the tests: initdb + pg_ctl, one per session.

Each test that asks for `postgres_url` gets a fresh database on it. Without PostgreSQL's binaries
the PostgreSQL tests are skipped, unless REQUIRE_POSTGRES=1 (set by .ci/run) makes that a failure.
"""

from __future__ import annotations

import asyncio
import glob
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest

HOW_TO_GET = ("PostgreSQL's initdb/pg_ctl were not found: install them (Debian: apt-get install postgresql) "
              "or point PG_BIN at their directory; .ci/run does this and sets REQUIRE_POSTGRES=1")
_names = itertools.count()


def find_bin() -> Path | None:
    """PG_BIN when set (and only it), else Debian's newest /usr/lib/postgresql/N/bin, else PATH."""
    if os.environ.get("PG_BIN"):
        candidates = [os.environ["PG_BIN"]]
    else:
        candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
        on_path = shutil.which("pg_ctl")
        if on_path:
            candidates.append(str(Path(on_path).parent))
    for directory in filter(None, candidates):
        if all((Path(directory) / tool).is_file() for tool in ("initdb", "pg_ctl", "postgres")):
            return Path(directory)
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class PostgresServer:
    """A server of our own: trust auth on 127.0.0.1 only, fsync off unless asked (its data dies with it)."""

    bin: Path
    root: Path
    port: int
    fsync: bool = False

    @property
    def data(self) -> Path:
        return self.root / "data"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, *argv: str) -> None:
        # initdb and postgres refuse to run as root; the tests may (CI does), so drop to nobody.
        prefix = ["runuser", "-u", "nobody", "--"] if os.geteuid() == 0 else []
        subprocess.run([*prefix, *argv], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=60)

    @classmethod
    def start(cls, bin_dir: Path, *, fsync: bool = False) -> PostgresServer:
        root = Path(tempfile.mkdtemp(prefix="pytest-pg-"))
        server = cls(bin_dir, root, 0, fsync)
        try:
            if os.geteuid() == 0:
                shutil.chown(root, "nobody", "nogroup")
            os.chmod(root, 0o700)
            server._run(str(bin_dir / "initdb"), "-D", str(server.data), "-U", "postgres", "--auth=trust",
                        "--no-sync", "-E", "UTF8", "--locale=C")
            for attempt in range(5):
                # A free port can be taken by someone else before the server binds it: try another.
                server.port = _free_port()
                try:
                    server._start()
                    return server
                except subprocess.CalledProcessError:
                    if attempt == 4:
                        raise
        except BaseException:
            shutil.rmtree(root, ignore_errors=True)
            raise
        raise AssertionError("unreachable")

    def _start(self) -> None:
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.root}"
        if not self.fsync:  # the tests' data dies with the server: no need to wait for the disk
            options += " -c fsync=off -c full_page_writes=off"
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.root / "log"), "-o", options,
                  "-w", "-t", "30", "start")

    def halt(self) -> None:
        """Stop the server at once, as a crash would (`pg_ctl stop -m immediate`); `resume` starts it again."""
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def resume(self) -> None:
        """Start a halted server again, on the same port, with the same data."""
        self._start()

    def stop(self) -> None:
        try:
            self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    async def create_database(self) -> str:
        name = f"t{os.getpid()}_{next(_names)}"
        conn = await asyncpg.connect(self.url())
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        return name

    async def drop_database(self, name: str) -> None:
        conn = await asyncpg.connect(self.url())
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()


def postgres_or_skip() -> Path:
    found = find_bin()
    if found is None:
        if os.environ.get("REQUIRE_POSTGRES") == "1":
            pytest.fail(HOW_TO_GET)
        pytest.skip(HOW_TO_GET)
    return found


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    server = PostgresServer.start(postgres_or_skip())
    try:
        yield server
    finally:
        server.stop()


PASSWORD_ROLE = "pw_user"


@pytest.fixture(scope="session")
def password_role(postgres_server: PostgresServer) -> tuple[str, str]:
    """(user, password) of a role the session's server asks for a password (scram-sha-256); every other
    connection is still trusted. For the tests of a wrong password."""
    password = "right-password-7f3a"

    async def create() -> None:
        conn = await asyncpg.connect(postgres_server.url())
        try:
            await conn.execute(f"CREATE ROLE {PASSWORD_ROLE} LOGIN PASSWORD '{password}'")
            hba = postgres_server.data / "pg_hba.conf"
            hba.write_text(f"host all {PASSWORD_ROLE} 127.0.0.1/32 scram-sha-256\n" + hba.read_text())
            await conn.execute("SELECT pg_reload_conf()")
        finally:
            await conn.close()

    asyncio.run(create())
    return PASSWORD_ROLE, password


@pytest.fixture
async def postgres_url(postgres_server: PostgresServer) -> AsyncIterator[str]:
    """A URL to an empty database of this test's own."""
    name = await postgres_server.create_database()
    try:
        yield postgres_server.url(name)
    finally:
        await postgres_server.drop_database(name)
