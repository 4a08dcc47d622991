"""Shared fixtures: a real SQLite engine in a temporary directory, and waiting on conditions."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from durable import DurableContext, durable_execution
from durable.engine import Engine
from durable.testing import DurableFunctionTestResult, DurableFunctionTestRunner

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


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'durable.db'}"


@pytest.fixture
def engine(store_url: str) -> Iterator[Engine]:
    with Engine(store=store_url) as running:
        yield running


def run_call(call: Callable[[DurableContext], object]) -> DurableFunctionTestResult:
    """Run a handler whose only work is `call(context)`; for testing what an operation rejects."""

    @durable_execution
    def handler(event: object, context: DurableContext) -> str:
        call(context)
        return "unreachable"

    with DurableFunctionTestRunner(handler) as runner:
        return runner.run()
