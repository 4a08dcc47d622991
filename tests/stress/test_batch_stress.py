"""Real-clock stress runs of map (marker `stress`; CI runs them at these sizes)."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest

from durable import DurableContext, durable_execution
from durable.config import Duration, JitterStrategy, MapConfig
from durable.engine import Engine
from durable.stores.base import ExecutionStatus
from durable.waits import WaitForConditionConfig, WaitStrategyConfig, create_wait_strategy

pytestmark = [pytest.mark.stress, pytest.mark.timeout(120)]

POLLS = 8


def _poll_strategy() -> Any:
    return create_wait_strategy(
        WaitStrategyConfig(
            should_continue_polling=lambda state: state < POLLS,
            initial_delay=Duration(2),
            backoff_rate=1.0,
            jitter_strategy=JitterStrategy.NONE,
        )
    )


@durable_execution
def timer_wave(event: dict[str, Any], context: DurableContext) -> list[int]:
    """One keeper branch holds the invocation for 18 s; every other branch polls every 2 s, 8 times."""

    def item(ctx: DurableContext, _: int, index: int, _items: Any) -> Any:
        if index == 0:
            return ctx.step(lambda _: threading.Event().wait(event["keep"]) or "kept", name="keeper")
        return ctx.wait_for_condition(
            lambda state, _check: state + 1, WaitForConditionConfig(_poll_strategy(), initial_state=0), name="poll"
        )

    result = context.map(list(range(event["branches"] + 1)), item, name="wave")
    return [result.success_count, result.failure_count]


@pytest.mark.parametrize("branches", [300, 3000])
def test_a_timer_wave_finishes_in_one_invocation(tmp_path: Path, branches: int) -> None:
    with Engine(store=f"sqlite:///{tmp_path / 'wave.db'}") as engine:
        engine.register("timer_wave", timer_wave, invocation_timeout=60)
        eid = engine.start("timer_wave", {"branches": branches, "keep": 18})
        record = engine.wait(eid, timeout=100)
        history = engine.history(eid)
    assert record.status is ExecutionStatus.SUCCEEDED
    assert json.loads(record.result or "null") == [branches + 1, 0]
    assert record.invocations == 1
    completions = [e for e in history if e["EventType"] == "InvocationCompleted"]
    assert len(completions) == 1 and "Error" not in completions[0]["InvocationCompletedDetails"]
    polls = [e for e in history if e["EventType"] == "StepSucceeded" and e.get("SubType") == "WaitForCondition"]
    assert len(polls) == branches * POLLS


@durable_execution
def limited(event: Any, context: DurableContext) -> int:
    def item(ctx: DurableContext, value: int, index: int, _items: Any) -> int:
        ctx.wait(Duration.from_seconds(1), name="pause")
        return ctx.step(lambda _: value * 2, name="double")

    result = context.map(list(range(100)), item, name="limited", config=MapConfig(max_concurrency=5))
    return sum(result.get_results())


def _in_flight_at_every_transition(history: list[dict[str, Any]], parent: str) -> list[int]:
    """Started-and-not-terminal iterations after each event, read from the durable history."""
    in_flight, samples = 0, []
    for event in history:
        if event.get("ParentId") != parent or event.get("SubType") != "MapIteration":
            continue
        if event["EventType"] == "ContextStarted":
            in_flight += 1
        elif event["EventType"] in ("ContextSucceeded", "ContextFailed"):
            in_flight -= 1
        samples.append(in_flight)
    return samples


def test_max_concurrency_counts_suspended_branches(tmp_path: Path) -> None:
    with Engine(store=f"sqlite:///{tmp_path / 'limit.db'}") as engine:
        engine.register(limited)
        eid = engine.start("limited", None)
        record = engine.wait(eid, timeout=100)
        history = engine.history(eid)
    assert record.status is ExecutionStatus.SUCCEEDED and record.result == str(sum(range(100)) * 2)
    samples = _in_flight_at_every_transition(history, "1")
    assert max(samples) == 5
    assert samples[-1] == 0 and len(samples) == 200


def test_readers_never_see_torn_state_while_branches_checkpoint(tmp_path: Path) -> None:
    errors: list[BaseException] = []
    stop = threading.Event()
    with Engine(store=f"sqlite:///{tmp_path / 'readers.db'}") as engine:
        engine.register("timer_wave", timer_wave, invocation_timeout=60)
        eid = engine.start("timer_wave", {"branches": 300, "keep": 6})

        def read() -> None:
            seen_done = 0
            try:
                while not stop.is_set():
                    operations = engine.operations(eid)
                    ids = {op.operation_id for op in operations}
                    assert all(op.parent_id is None or op.parent_id in ids for op in operations)
                    done = sum(1 for op in operations if op.status.is_terminal)
                    assert done >= seen_done, "a finished operation went back"
                    seen_done = done
                    events = engine.history(eid)
                    assert [e["EventId"] for e in events] == list(range(1, len(events) + 1))
            except BaseException as error:
                errors.append(error)

        readers = [threading.Thread(target=read) for _ in range(4)]
        for reader in readers:
            reader.start()
        record = engine.wait(eid, timeout=100)
        stop.set()
        for reader in readers:
            reader.join(10)
    assert not errors, errors[0]
    assert record.status is ExecutionStatus.SUCCEEDED
