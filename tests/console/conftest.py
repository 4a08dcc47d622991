"""Fixtures for the console: an engine with the console's app, a logged-in test client, the CSRF token."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from durable.console import Console, create_console_app
from durable.engine import Engine
from tests.workflows import approval

TOKEN = "console-test-token-0123456789abcdef-0123"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


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
    """A client whose session was opened with the printed login link."""
    opened = anonymous.get(console.login_url("http://testserver"))
    assert opened.status_code == 303, opened.text
    return anonymous


def csrf_of(client: TestClient, page: str = "/console/executions") -> str:
    found = CSRF.search(client.get(page).text)
    assert found is not None, f"no CSRF field on {page}"
    return found.group(1)
