"""Handlers the tests run, importable by name (`tests.workflows:...`) from other processes."""

from __future__ import annotations

import functools
import gc
import json
import os
import sys
import threading
from pathlib import Path
from typing import Any

from durable import DurableContext, durable_execution
from durable.config import Duration


def _mark(path: str, line: str) -> str:
    """Append a line to `path` and return it, so a step can record that it ran and return a value."""
    with open(path, "a") as handle:
        handle.write(line + "\n")
    return line


def _wait_for_file(path: str) -> None:
    """Stand-in for slow work that a test ends by creating `path` (or by killing the process)."""
    release = Path(path)
    while not release.exists():
        threading.Event().wait(0.01)


@durable_execution
def step_wait_step(event: dict[str, Any], context: DurableContext) -> str:
    """Records each step run in a file, so a test can count re-runs across processes."""
    marks = event["marks"]
    first = context.step(lambda _: _mark(marks, "first") and "one", name="first")
    context.wait(Duration.from_seconds(event.get("wait", 2)), name="pause")
    second = context.step(lambda _: _mark(marks, "second") and "two", name="second")
    return f"{first}-{second}"


@durable_execution
def slow_step(event: dict[str, Any], context: DurableContext) -> str:
    """A step that blocks on a file appearing: a test kills or fences the process meanwhile."""
    marks = event["marks"]

    def slow(_: Any) -> str:
        _mark(marks, "slow-started")
        if "pid_file" in event:
            Path(event["pid_file"]).write_text(str(os.getpid()))
        _wait_for_file(event["release"])
        return "slow-done"

    done = context.step(lambda _: _mark(marks, "before"), name="before")
    return done + "/" + context.step(slow, name="slow")


@durable_execution
def exit_in_step(event: Any, context: DurableContext) -> str:
    """Simulates a crash: the process dies inside a step."""
    return context.step(lambda _: os._exit(3), name="crash")


@durable_execution
def system_exit_in_branch(event: Any, context: DurableContext) -> Any:
    """A map branch calls sys.exit: the invocation ends as crashed (it would end a Lambda runtime)."""

    def item(ctx: DurableContext, value: int, index: int, _items: Any) -> int:
        if index == 1:
            sys.exit(3)
        return value

    return context.map([0, 1, 2], item, name="exits").get_results()


@durable_execution
def at_most_once_slow(event: dict[str, Any], context: DurableContext) -> str:
    """An AT_MOST_ONCE_PER_RETRY step that a test kills mid-attempt; it must never run twice."""
    from durable.config import StepConfig, StepSemantics
    from durable.retries import RetryPresets

    marks = event["marks"]

    def once(_: Any) -> str:
        _mark(marks, "attempt")
        _wait_for_file(event["release"])
        return "done"

    config = StepConfig(retry_strategy=RetryPresets.none(), step_semantics=StepSemantics.AT_MOST_ONCE_PER_RETRY)
    return context.step(once, name="once", config=config)


@durable_execution
def approval(event: Any, context: DurableContext) -> dict[str, Any]:
    """Waits for one outside approval (a callback named 'approval')."""
    callback = context.create_callback(name="approval")
    answer = callback.result()
    return {"approved": json.loads(answer) if answer is not None else None}


@durable_execution
def approval_during_step(event: dict[str, Any], context: DurableContext) -> Any:
    """Creates a callback, then runs a step that blocks until a test releases it, then asks for the result."""
    callback = context.create_callback(name="approval")
    context.step(lambda _: _mark(event["marks"], callback.callback_id), name="publish")
    context.step(lambda _: _wait_for_file(event["release"]), name="gate")
    answer = callback.result()
    return json.loads(answer) if answer is not None else None


@durable_execution
def approval_with_timeouts(event: dict[str, Any], context: DurableContext) -> Any:
    """A callback with a timeout and a heartbeat timeout (seconds from the input); reports a timeout as text."""
    from durable.config import CallbackConfig
    from durable.exceptions import CallbackTimeoutError

    config = CallbackConfig(
        timeout=Duration.from_seconds(event.get("timeout", 0)),
        heartbeat_timeout=Duration.from_seconds(event.get("heartbeat", 0)),
    )
    callback = context.create_callback(name="approval", config=config)
    try:
        answer = callback.result()
    except CallbackTimeoutError as error:
        return f"timed out: {error.message}"
    return json.loads(answer) if answer is not None else None


@durable_execution
def crash_steps(event: dict[str, Any], context: DurableContext) -> int:
    """`steps` slow steps, each appending `execution step pid` to a log before it returns: a crash test's evidence."""
    log, pause = event["log"], event.get("pause", 0.03)

    def step(index: int) -> Any:
        def run(_: Any) -> int:
            threading.Event().wait(pause)
            fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, f"{context.execution_context.durable_execution_arn} {index} {os.getpid()}\n".encode())
            finally:
                os.close(fd)
            return index * index

        return run

    return sum(context.step(step(index), name=f"s{index}") for index in range(event["steps"]))


def entry_log(handler: Any) -> Any:
    """A Lambda entry-point decorator stacked on a durable handler (as logging and tracing libraries are):
    it appends what it was called with, and what came back, to the file named by $ENTRY_LOG."""

    @functools.wraps(handler)
    def entry(event: Any, lambda_context: Any) -> Any:
        path = os.environ["ENTRY_LOG"]
        arn, request = bool(event.durable_execution_arn), bool(lambda_context.aws_request_id)
        _mark(path, f"in {type(event).__name__} {arn} {request}")
        try:
            out = handler(event, lambda_context)
        except Exception as error:
            _mark(path, f"raised {type(error).__name__}")
            raise
        _mark(path, f"out {out['Status']}")
        return out

    return entry


@entry_log
@durable_execution
def logged_entry(event: dict[str, Any], context: DurableContext) -> str:
    """Asks to be invoked again once (a retryable InvocationError), then waits and returns."""
    from durable.exceptions import InvocationError

    once = os.environ["ENTRY_LOG"] + ".again"
    if not Path(once).exists():
        Path(once).write_text("")
        raise InvocationError("run me again")
    context.wait(Duration.from_seconds(1))
    return context.step(lambda _: "done", name="finish")


@durable_execution
def collector_thresholds(event: Any, context: DurableContext) -> list[int]:
    """The thresholds of the collector in the process the handler runs in."""
    return list(gc.get_threshold())
