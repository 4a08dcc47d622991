"""Shared fixtures: a real SQLite engine in a temporary directory, the HTTP API and console served over it,
and waiting on conditions."""

from __future__ import annotations

import os
import re
import socket
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from hypothesis import settings

from durable import DurableContext, durable_execution
from durable.console import Console, create_console_app
from durable.engine import Engine
from durable.http_api import serving_in_background
from durable.testing import DurableFunctionTestResult, DurableFunctionTestRunner
from tests.workflows import approval

REPO = Path(__file__).resolve().parents[1]
#: files beside the repository that a test opened: a plain clone has nothing beside it
_OUTSIDE_READS: list[str] = []


def _note_reads_beside_the_repository(event: str, args: tuple[object, ...]) -> None:
    """Note an open of a file in a folder beside the repository.

    Python's own files (a virtualenv kept beside the clone) and dot-folders
    (a home directory's ~/.cache, ~/.config) are not the project's data.
    """
    if event != "open" or not args or not isinstance(args[0], (str, bytes, os.PathLike)):
        return
    path = os.path.abspath(os.fsdecode(args[0]))
    beside = str(REPO.parent) + os.sep
    if not path.startswith(beside) or path.startswith(str(REPO) + os.sep) or path[len(beside):].startswith("."):
        return
    python = (sys.prefix, sys.base_prefix, sys.exec_prefix, *(p for p in sys.path if p))
    if any(path.startswith(os.path.abspath(place) + os.sep) for place in python):
        return
    _OUTSIDE_READS.append(path)


sys.addaudithook(_note_reads_beside_the_repository)


@pytest.fixture(autouse=True)
def _reads_nothing_beside_the_repository() -> Iterator[None]:
    """Every test runs from the repository alone: opening a file in a folder beside it fails the test."""
    before = len(_OUTSIDE_READS)
    yield
    opened = _OUTSIDE_READS[before:]
    assert not opened, f"the test opened files outside the repository: {sorted(set(opened))}"


settings.register_profile("ci", derandomize=True, deadline=None)
settings.register_profile("dev", deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")


def wait_until(predicate: Callable[[], object], timeout: float = 10.0, what: str = "condition") -> object:
    """Poll `predicate` until it returns something truthy; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.01)


def open_callback(engine: Engine, execution_id: str, timeout: float = 10.0) -> str:
    """The callback id, once the invocation that created it has suspended."""

    def suspended() -> str | None:
        record = engine.status(execution_id)
        ops = [op for op in engine.operations(execution_id) if op.callback_id]
        return ops[0].callback_id if ops and record.invocations and not record.invocation_open else None

    return str(wait_until(suspended, timeout=timeout, what="the execution to suspend on its callback"))


#: the PostgreSQL server the tests use; each test gets a schema of its own, dropped afterwards
PG_SERVER = os.environ.get("DURABLE_TEST_POSTGRESQL", "postgresql://postgres@127.0.0.1:5432/postgres")


def _pg_unreachable() -> str | None:
    try:
        import psycopg
    except ImportError:
        return "psycopg is not installed (pip install 'durable[postgresql]')"
    try:
        psycopg.connect(PG_SERVER, connect_timeout=3).close()
    except psycopg.Error as error:
        return f"PostgreSQL at {PG_SERVER} is unreachable: {str(error).strip().splitlines()[-1]}"
    return None


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A store URL on the test server, in a fresh schema; in CI an unreachable server fails the test."""
    reason = _pg_unreachable()
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    import uuid

    import psycopg

    schema = f"t_{uuid.uuid4().hex[:12]}"
    yield f"{PG_SERVER}?schema={schema}"
    with psycopg.connect(PG_SERVER, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'durable.db'}"


@pytest.fixture
def engine(store_url: str) -> Iterator[Engine]:
    with Engine(store=store_url) as running:
        yield running


#: the bearer token of the HTTP API and the console that the fixtures serve
TOKEN = "test-token-0123456789abcdef-0123456789"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@pytest.fixture
def api(engine: Engine) -> Iterator[httpx.Client]:
    """The HTTP API over `engine` (the approval workflow registered), and a client holding the token."""
    engine.register(approval)
    with serving_in_background(engine, TOKEN) as url, httpx.Client(
        base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=20
    ) as client:
        yield client


@pytest.fixture
def console(engine: Engine) -> Iterator[Console]:
    engine.register(approval)
    made = create_console_app(engine, TOKEN, feed_interval=0.05)
    try:
        yield made
    finally:
        made.close()


@pytest.fixture
def anonymous(console: Console) -> Iterator[TestClient]:
    with TestClient(console.app, raise_server_exceptions=False, follow_redirects=False) as client:
        yield client


@pytest.fixture
def client(console: Console, anonymous: TestClient) -> TestClient:
    """A console client whose session was opened with the printed login link."""
    opened = anonymous.get(console.login_url("http://testserver"))
    assert opened.status_code == 303, opened.text
    return anonymous


def csrf_of(client: TestClient, page: str = "/console/executions") -> str:
    found = CSRF.search(client.get(page).text)
    assert found is not None, f"no CSRF field on {page}"
    return found.group(1)


def closed_by_server(conn: socket.socket) -> bool:
    """True once the server has closed the connection (EOF or reset), within the socket's timeout."""
    try:
        return conn.recv(1024) == b""
    except ConnectionResetError:
        return True


def closed_by_server_now(conn: socket.socket) -> bool:
    """Whether the server has closed the connection already, without waiting."""
    conn.setblocking(False)
    try:
        return conn.recv(1024) == b""
    except BlockingIOError:
        return False
    except ConnectionResetError:
        return True
    finally:
        conn.setblocking(True)


def run_call(call: Callable[[DurableContext], object]) -> DurableFunctionTestResult:
    """Run a handler whose only work is `call(context)`; for testing what an operation rejects."""

    @durable_execution
    def handler(event: object, context: DurableContext) -> str:
        call(context)
        return "unreachable"

    with DurableFunctionTestRunner(handler) as runner:
        return runner.run()
