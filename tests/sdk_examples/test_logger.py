"""Tests for context.logger, checked through pytest's caplog."""

import logging

import pytest

from durable.execution import InvocationStatus
from tests.sdk_examples.functions import logger_custom, logger_example, logger_replay


def _records(caplog, text):
    return [r for r in caplog.records if text in r.getMessage()]


@pytest.mark.example
@pytest.mark.durable_execution(handler=logger_example.handler, lambda_function_name="logger example")
def test_logger_formats_and_extra(durable_runner, caplog):
    """%-style arguments are formatted; extra= fields and the execution ARN land on the record."""
    caplog.set_level(logging.DEBUG)
    with durable_runner:
        result = durable_runner.run(input={"order_id": "o-1", "amount": 500}, timeout=10)

    assert result.status is InvocationStatus.SUCCEEDED
    [processing] = _records(caplog, "Processing order o-1")
    assert processing.levelno == logging.INFO
    assert processing.msg == "Processing order %s"
    assert processing.args == ("o-1",)
    assert processing.order_id == "o-1"
    assert processing.executionArn
    assert processing.name == "root"

    [charging] = _records(caplog, "charging 500 cents")
    assert charging.currency == "USD"
    assert charging.operationName == "charge"
    assert charging.attempt == 1
    assert charging.operationId == result.get_step("charge").operation_id
    assert charging.executionArn == processing.executionArn

    [debug] = _records(caplog, "debug details")
    assert debug.levelno == logging.DEBUG
    assert debug.getMessage() == "debug details {'k': 'v'}"


@pytest.mark.example
@pytest.mark.durable_execution(handler=logger_example.handler, lambda_function_name="logger example")
def test_logger_deduplicates_replayed_logs(durable_runner, caplog):
    """The handler runs twice because of the wait, yet each message is logged once."""
    caplog.set_level(logging.INFO)
    with durable_runner:
        result = durable_runner.run(input={"order_id": "o-2", "amount": 100}, timeout=10)

    assert result.status is InvocationStatus.SUCCEEDED
    assert len(_records(caplog, "Processing order o-2")) == 1
    assert len(_records(caplog, "charging 100 cents")) == 1
    [resumed] = _records(caplog, "Order o-2 resumed after pause")
    assert resumed.levelno == logging.WARNING
    [child] = _records(caplog, "inside child context")
    assert child.parentId == result.get_context("child_logging").operation_id


@pytest.mark.example
@pytest.mark.durable_execution(handler=logger_custom.handler, lambda_function_name="logger custom")
def test_set_logger(durable_runner, caplog):
    """context.set_logger routes context and step logs to the given logger."""
    caplog.set_level(logging.INFO)
    with durable_runner:
        result = durable_runner.run(input=None, timeout=10)

    assert result.status is InvocationStatus.SUCCEEDED
    [info] = _records(caplog, "using the app logger")
    assert info.name == "orders.app"
    [error] = _records(caplog, "step failed softly")
    assert error.name == "orders.app"
    assert error.levelno == logging.ERROR
    assert error.operationName == "soft_step"


@pytest.mark.example
@pytest.mark.durable_execution(handler=logger_replay.handler, lambda_function_name="logger replay")
def test_logger_with_is_replaying(durable_runner, caplog):
    """A logger rebound with with_is_replaying(lambda: False) logs on every invocation, replay included."""
    caplog.set_level(logging.INFO)
    with durable_runner:
        result = durable_runner.run(input=None, timeout=10)

    assert result.status is InvocationStatus.SUCCEEDED
    assert result.result == "false"
    invoked = [r.getMessage() for r in _records(caplog, "handler invoked")]
    assert invoked == ["handler invoked (replaying=False)", "handler invoked (replaying=True)"]
    assert len(_records(caplog, "first pass only")) == 1
    assert len(_records(caplog, "after the pause")) == 1


@pytest.mark.example
@pytest.mark.durable_execution(handler=logger_example.handler, lambda_function_name="logger example")
def test_at_debug_the_log_holds_the_handlers_records_and_not_the_runtimes_internals(durable_runner, caplog):
    """A test that turns everything up to DEBUG sees what the handler logged, not the actor library's chatter."""
    caplog.set_level(logging.DEBUG)
    with durable_runner:
        result = durable_runner.run(input={"order_id": "o-4", "amount": 100}, timeout=10)

    assert result.status is InvocationStatus.SUCCEEDED
    assert _records(caplog, "Processing order o-4")
    assert [r.getMessage() for r in caplog.records if r.name.split(".")[0] == "pykka"] == []
