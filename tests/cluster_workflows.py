"""Handlers that `durable worker` processes run in the many-engine tests (`--function tests.cluster_workflows`).

Each step appends "execution step pid" to a file named by $DURABLE_TEST_MARKS, in one write with
O_APPEND, so a test can tell which process ran which step and whether any step ran twice.
"""

from __future__ import annotations

import os
from typing import Any

from durable import DurableContext, durable_execution
from durable.config import Duration, WaitForCallbackConfig

STEPS = 10


def mark(execution: str, step: str) -> str:
    line = f"{execution} {step} {os.getpid()}\n"
    fd = os.open(os.environ["DURABLE_TEST_MARKS"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)
    return step


@durable_execution
def ten_steps(event: dict[str, Any], context: DurableContext) -> int:
    def run(name: str) -> Any:
        return lambda _: mark(event["id"], name)

    for i in range(STEPS):
        context.step(run(f"s{i}"), name=f"s{i}")
    return STEPS


@durable_execution
def steps_timer_callback(event: dict[str, Any], context: DurableContext) -> str:
    """A step, a 1 s timer, a callback the test completes, then a last step: every way an execution waits."""
    context.step(lambda _: mark(event["id"], "first"), name="first")
    context.wait(Duration.from_seconds(1), name="pause")
    answer = context.wait_for_callback(lambda _callback_id, _ctx: None, name="approval",
                                       config=WaitForCallbackConfig(timeout=Duration.from_minutes(10)))
    context.step(lambda _: mark(event["id"], "last"), name="last")
    return f"{event['id']}:{answer}"
