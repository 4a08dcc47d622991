"""map and parallel on the test runner: completion policies, ordering, failures, and bad input."""

from __future__ import annotations

import gc
import json
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from loguru import logger

from durable import DurableContext, durable_execution
from durable.concurrency.models import BatchItemStatus, BatchResult, CompletionReason
from durable.config import CompletionConfig, Duration, MapConfig, ParallelBranch, ParallelConfig
from durable.context import durable_parallel_branch
from durable.core.records import OperationStatus
from durable.exceptions import ValidationError
from durable.execution import InvocationStatus
from durable.logger import Logger
from durable.testing import DurableFunctionTestRunner
from durable.waits import WaitForConditionConfig, WaitForConditionDecision
from tests.conftest import run_call
from tests.workflows import system_exit_in_branch

pytestmark = pytest.mark.timeout(60)


def _run(handler: Any, payload: Any = None) -> Any:
    with DurableFunctionTestRunner(handler) as runner:
        return runner.run(input=payload)


def _summary(batch: BatchResult[Any]) -> dict[str, Any]:
    return {
        "results": batch.get_results(),
        "statuses": [item.status.value for item in batch.all],
        "reason": batch.completion_reason.value,
        "failures": batch.failure_count,
    }


def test_results_come_back_in_index_order_whatever_the_completion_order() -> None:
    @durable_execution
    def handler(event: Any, context: DurableContext) -> Any:
        def item(ctx: DurableContext, value: int, index: int, _items: Any) -> int:
            if index % 2 == 0:
                ctx.wait(Duration.from_seconds(1 + index))
            return ctx.step(lambda _: value * 10)

        return _summary(context.map([1, 2, 3, 4, 5], item))

    result = _run(handler)
    assert result.status is InvocationStatus.SUCCEEDED
    assert json.loads(result.result)["results"] == [10, 20, 30, 40, 50]


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        (MapConfig(max_concurrency=1), {  # the default policy: the first failure ends the batch
            "results": [1], "statuses": ["SUCCEEDED", "FAILED"], "reason": "FAILURE_TOLERANCE_EXCEEDED", "failures": 1,
        }),
        (MapConfig(max_concurrency=1, completion_config=CompletionConfig.all_completed()), {
            "results": [1, 3], "statuses": ["SUCCEEDED", "FAILED", "SUCCEEDED"], "reason": "ALL_COMPLETED",
            "failures": 1,
        }),
    ],
    ids=["default-fails-fast", "all-completed"],
)
def test_a_failing_branch_is_a_batch_item_failure_not_a_crash(config: MapConfig[Any], expected: Any) -> None:
    @durable_execution
    def handler(event: Any, context: DurableContext) -> Any:
        def item(ctx: DurableContext, value: int, index: int, _items: Any) -> int:
            if value == 2:
                raise KeyError("no such thing")
            return value

        return _summary(context.map([1, 2, 3], item, config=config))

    assert json.loads(_run(handler).result or "null") == expected


@pytest.mark.parametrize(
    ("completion", "reason", "statuses"),
    [
        (CompletionConfig.first_successful(), "MIN_SUCCESSFUL_REACHED", ["FAILED", "SUCCEEDED"]),
        (CompletionConfig.all_successful(), "FAILURE_TOLERANCE_EXCEEDED", ["FAILED"]),
        (CompletionConfig(tolerated_failure_count=1), "FAILURE_TOLERANCE_EXCEEDED", ["FAILED", "SUCCEEDED", "FAILED"]),
        (CompletionConfig(tolerated_failure_percentage=50), "ALL_COMPLETED", ["FAILED", "SUCCEEDED"] * 2),
    ],
)
def test_completion_policies_stop_where_they_say(
    completion: CompletionConfig, reason: str, statuses: list[str]
) -> None:
    @durable_execution
    def handler(event: Any, context: DurableContext) -> Any:
        def item(ctx: DurableContext, value: int, index: int, _items: Any) -> int:
            if value % 2 == 0:
                raise ValueError(f"item {value} fails")
            return value

        config: MapConfig[Any] = MapConfig(max_concurrency=1, completion_config=completion)
        return _summary(context.map([0, 1, 2, 3], item, config=config))

    summary = json.loads(_run(handler).result)
    assert summary["reason"] == reason
    assert summary["statuses"] == statuses


def test_parallel_takes_named_branches_and_decorated_ones() -> None:
    @durable_parallel_branch(name="add")
    def add(context: DurableContext, a: int, b: int) -> int:
        return context.step(lambda _: a + b, name="add")

    @durable_execution
    def handler(event: Any, context: DurableContext) -> Any:
        branches: list[Any] = [ParallelBranch(lambda c: "named", name="first"), add(2, 3), lambda c: {"k": [1]}]
        batch: BatchResult[Any] = context.parallel(
            branches,
            name="fan-out",
            config=ParallelConfig(max_concurrency=2),
        )
        return batch.get_results()

    result = _run(handler)
    assert json.loads(result.result) == ["named", 5, {"k": [1]}]
    fan_out = result.get_context("fan-out")
    by_id = sorted(fan_out.child_operations, key=lambda child: child.operation_id)
    assert [child.name for child in by_id] == ["first", "add", "parallel-branch-2"]


def test_a_batch_result_round_trips_on_replay() -> None:
    @durable_execution
    def handler(event: Any, context: DurableContext) -> Any:
        batch = context.map(["a", "b"], lambda ctx, v, i, items: v.upper(), name="upper")
        context.wait(Duration.from_seconds(1))
        assert isinstance(batch, BatchResult)
        assert batch.all[1].status is BatchItemStatus.SUCCEEDED
        assert batch.completion_reason is CompletionReason.ALL_COMPLETED
        return batch.get_results()

    result = _run(handler)
    assert result.status is InvocationStatus.SUCCEEDED and json.loads(result.result) == ["A", "B"]
    assert len(result.invocations) == 2


def test_map_takes_any_iterable_as_the_sdk_does() -> None:
    """The SDK enumerates whatever it is given: a dict's keys, its items, a generator, a set, a string."""

    @durable_execution
    def handler(event: Any, context: DurableContext) -> dict[str, Any]:
        cases: dict[str, Callable[[], Any]] = {
            "dict": lambda: {"a": 1, "b": 2},
            "items": lambda: {"a": 1, "b": 2}.items(),
            "generator": lambda: (n * 10 for n in (1, 2)),
            "set": lambda: {7},
            "str": lambda: "ab",
        }
        return {
            key: context.map(make(), lambda _c, item, index, _items: [item, index], name=key).get_results()
            for key, make in cases.items()
        }

    result = _run(handler)
    assert result.status is InvocationStatus.SUCCEEDED, result.error
    assert json.loads(result.result) == {
        "dict": [["a", 0], ["b", 1]],
        "items": [[["a", 1], 0], [["b", 2], 1]],
        "generator": [[10, 0], [20, 1]],
        "set": [[7, 0]],
        "str": [["a", 0], ["b", 1]],
    }


_NEEDS_THREE = CompletionConfig(min_successful=3)


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda ctx: ctx.map(42, lambda *a: 1), "iterable"),
        (lambda ctx: ctx.parallel(None), "iterable"),
        (lambda ctx: ctx.map([1], "not callable"), "callable"),
        (lambda ctx: ctx.parallel([lambda c: 1, 7]), "branch 1 is not callable"),
        (lambda ctx: ctx.map([1], lambda *a: 1, config=MapConfig(max_concurrency=0)), "max_concurrency"),
        (lambda ctx: ctx.parallel([lambda c: 1], config=ParallelConfig(max_concurrency=-1)), "max_concurrency"),
        (lambda ctx: ctx.map([1, 2], lambda *a: 1, config=MapConfig(completion_config=_NEEDS_THREE)), "min_successful"),
        (lambda ctx: CompletionConfig(tolerated_failure_percentage=150), "tolerated_failure_percentage"),
        (lambda ctx: CompletionConfig(tolerated_failure_count=-1), "tolerated_failure_count"),
    ],
)
def test_bad_batch_input_is_a_validation_error_before_any_checkpoint(call: Any, field: str) -> None:
    result = run_call(call)
    assert result.status is InvocationStatus.FAILED
    assert result.error is not None and result.error.type == "ValidationError"
    assert field in (result.error.message or "")
    assert result.get_all_operations() == []


def test_validation_error_is_raised_to_the_caller() -> None:
    with pytest.raises(ValidationError, match="tolerated_failure_percentage"):
        CompletionConfig(tolerated_failure_percentage=-0.5)


def test_a_batch_result_over_the_checkpoint_limit_is_rebuilt_from_its_branches_on_replay() -> None:
    @durable_execution
    def handler(event: Any, context: DurableContext) -> Any:
        config: MapConfig[Any] = MapConfig(summary_generator=lambda b: f"{b.success_count} large results")
        batch = context.map(
            [0, 1, 2], lambda ctx, v, i, items: ctx.step(lambda _: "x" * 100_000), name="big", config=config
        )
        context.wait(Duration.from_seconds(1))
        return [len(text) for text in batch.get_results()]

    result = _run(handler)
    assert result.status is InvocationStatus.SUCCEEDED, result.error
    assert json.loads(result.result) == [100_000] * 3
    succeeded = [e for e in result.history if e["EventType"] == "ContextSucceeded" and e.get("SubType") == "Map"]
    details = succeeded[0]["ContextSucceededDetails"]
    assert len(succeeded) == 1 and details.get("ReplayChildren") is True
    envelope = json.loads(details["Result"]["Payload"])
    assert envelope == {
        "type": "MapResult", "totalCount": 3, "completionReason": "ALL_COMPLETED", "startedIndexes": [],
        "startedCount": 0, "successCount": 3, "failureCount": 0, "status": "SUCCEEDED", "summary": "3 large results",
    }


@durable_execution
def _staggered_waits(event: Any, context: DurableContext) -> list[str]:
    """Three branches start their 1 s waits about 8 ms apart (branch i computes for i x 8 ms first)."""

    def branch(ctx: DurableContext, _item: int, index: int, _items: Any) -> str:
        ctx.step(lambda _: time.sleep(index * 0.008), name="stagger")
        ctx.wait(Duration.from_seconds(1), name="pause")
        return f"done {index}"

    return context.map([0, 1, 2], branch, name="staggered").get_results()


def test_timers_due_milliseconds_apart_resume_in_one_invocation_the_earliest_starts() -> None:
    with DurableFunctionTestRunner(_staggered_waits, skip_time=False) as runner:
        result = runner.run(input=None, timeout=30)
    assert result.status is InvocationStatus.SUCCEEDED
    assert json.loads(result.result or "null") == ["done 0", "done 1", "done 2"]
    assert len(result.invocations) == 2, "the later timers were held for in the invocation the first one started"
    second = [e["EventType"] for e in result.history]
    second = second[second.index("InvocationCompleted") + 1:]
    assert second.count("WaitSucceeded") == 3


@durable_execution
def _slow_replay_then_staggered_waits(event: Any, context: DurableContext) -> list[str]:
    """Every invocation spends 0.3 s before its map (as a large execution's replay would); the second
    branch starts its 1 s wait 0.45 s after the first."""
    time.sleep(0.3)

    def branch(ctx: DurableContext, _item: int, index: int, _items: Any) -> str:
        ctx.step(lambda _: time.sleep(index * 0.45), name="stagger")
        ctx.wait(Duration.from_seconds(1), name="pause")
        return f"done {index}"

    return context.map([0, 1], branch, name="staggered").get_results()


def test_an_invocation_waits_for_a_timer_due_sooner_than_its_own_replay_took() -> None:
    with DurableFunctionTestRunner(_slow_replay_then_staggered_waits, skip_time=False) as runner:
        result = runner.run(input=None, timeout=30)
    assert result.status is InvocationStatus.SUCCEEDED
    assert json.loads(result.result or "null") == ["done 0", "done 1"]
    # the second invocation starts when the first wait is due and replays for 0.3 s; the second wait is
    # due about 0.15 s later, sooner than another invocation could get back to it
    assert len(result.invocations) == 2


def test_resumed_branches_leave_no_reference_cycles_behind() -> None:
    """Each resume builds a context per branch; if context and logger held each other, every one
    would wait for the cyclic collector, whose full passes over a large wave's heap cost more than
    the resumes themselves."""

    @durable_execution
    def handler(event: Any, context: DurableContext) -> Any:
        def item(ctx: DurableContext, _value: int, _index: int, _items: Any) -> Any:
            ctx.logger.info("branch runs")
            return ctx.wait_for_condition(
                lambda state, _check: state + 1,
                WaitForConditionConfig(
                    lambda state, _attempt: WaitForConditionDecision(state < 3, Duration.from_seconds(1)),
                    initial_state=0,
                ),
            )

        return context.map(list(range(10)), item).get_results()

    gc.collect()
    gc.disable()
    try:
        result = _run(handler)
        gc.set_debug(gc.DEBUG_SAVEALL)
        gc.collect()
        stranded = [
            type(o).__name__ for o in gc.garbage
            if (isinstance(o, DurableContext) and o.state.durable_execution_arn == result.execution_arn)
            or (isinstance(o, Logger) and o._default_extra.get("executionArn") == result.execution_arn)
        ]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
    assert result.status is InvocationStatus.SUCCEEDED and json.loads(result.result) == [3] * 10
    assert stranded == []


def test_a_branch_new_to_this_invocation_asks_the_execution_state_nothing_on_its_first_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A branch not started before has nothing recorded under it: its first run replays from an empty
    view instead of asking for its context and each operation (an ask each, a wait on the actor every
    branch writes to)."""
    from actors.execution_state import ExecutionState
    from actors.messages import Lookup

    asked: list[str] = []
    handle = ExecutionState.handle

    def counting(self: ExecutionState, message: Any) -> Any:
        if isinstance(message, Lookup):
            asked.append(message.operation_id)
        return handle(self, message)

    monkeypatch.setattr(ExecutionState, "handle", counting)

    @durable_execution
    def handler(event: Any, context: DurableContext) -> Any:
        def item(ctx: DurableContext, value: int, _index: int, _items: Any) -> Any:
            doubled = ctx.step(lambda _: value * 2, name="double")
            return ctx.step(lambda _: doubled + 1, name="plus one")

        return context.map(list(range(20)), item, name="fan").get_results()

    with DurableFunctionTestRunner(handler) as runner:
        result = runner.run(input=None, timeout=30)
    assert result.status is InvocationStatus.SUCCEEDED
    assert json.loads(result.result or "null") == [value * 2 + 1 for value in range(20)]
    assert len(result.invocations) == 1
    assert [op for op in asked if op.count("-") >= 1] == []


def test_a_nested_map_met_again_in_a_branch_resumed_in_the_same_invocation_replays_what_it_did() -> None:
    """An outer branch suspends on its inner map's timers and resumes in the same invocation: the inner
    map's branches started since the invocation's snapshot, and their replay must see what they wrote."""
    runs: list[str] = []

    @durable_execution
    def handler(event: Any, context: DurableContext) -> Any:
        def inner(ctx: DurableContext, value: int, index: int, _items: Any) -> Any:
            def first_step(_: Any) -> int:
                runs.append(f"{value}-{index}")
                return value * 10 + index

            first = ctx.step(first_step, name="first")
            ctx.wait(Duration.from_seconds(1), name="pause")
            return first

        def outer(ctx: DurableContext, value: int, _index: int, _items: Any) -> Any:
            if value < 0:
                return ctx.step(lambda _: threading.Event().wait(4) or "kept", name="keeper")
            return sum(ctx.map([value] * 3, inner, name="inner").get_results())

        return context.map([-1, 1, 2], outer, name="outer").get_results()

    with DurableFunctionTestRunner(handler, skip_time=False) as runner:
        result = runner.run(input=None, timeout=30)
    assert result.status is InvocationStatus.SUCCEEDED
    assert json.loads(result.result or "null") == ["kept", 33, 63]
    assert len(result.invocations) == 1
    assert sorted(runs) == ["1-0", "1-1", "1-2", "2-0", "2-1", "2-2"]


def test_more_branches_running_nested_maps_than_pool_threads_all_finish() -> None:
    """Each outer branch holds a pool thread while it waits for its nested map; the nested branches still run."""

    @durable_execution
    def handler(event: Any, context: DurableContext) -> Any:
        def inner(ctx: DurableContext, value: int, _index: int, _items: Any) -> int:
            return ctx.step(lambda _: value * 2, name="double")

        def outer(ctx: DurableContext, value: int, _index: int, _items: Any) -> Any:
            return ctx.map([value, value + 1], inner, name="inner").get_results()

        return context.map(list(range(event)), outer, name="outer").get_results()

    outer_items = 100  # the engine's branch pool has 64 threads
    result = _run(handler, outer_items)
    assert result.status is InvocationStatus.SUCCEEDED
    assert json.loads(result.result) == [[2 * i, 2 * i + 2] for i in range(outer_items)]


def test_branches_still_running_when_their_batch_completes_stop_at_their_next_checkpoint() -> None:
    """As the SDK does: the map's completion orphans what runs under it, so a late step is refused, not recorded."""
    released, stopped, side_effects = threading.Event(), threading.Semaphore(0), []
    logger.enable("actors")
    sink = logger.add(lambda m: stopped.release() if "its batch had already completed" in m else None, level="DEBUG")

    @durable_execution
    def handler(event: Any, context: DurableContext) -> Any:
        def item(ctx: DurableContext, _value: int, index: int, _items: Any) -> str:
            if index == 0:
                return ctx.step(lambda _: "fast", name="fast")
            ctx.step(lambda _: released.wait(30) and "slow", name="slow")
            ctx.step(lambda _: side_effects.append(index), name="after")
            return "late"

        config: MapConfig[Any] = MapConfig(completion_config=CompletionConfig(min_successful=1))
        batch = context.map([0, 1, 2], item, name="race", config=config)

        def hold(_: Any) -> None:  # the invocation stays open until both late branches have stopped
            released.set()
            assert all(stopped.acquire(timeout=30) for _ in range(2)) or side_effects

        context.step(hold, name="hold")
        return [entry.status.value for entry in batch.all]

    try:
        with DurableFunctionTestRunner(handler) as runner:
            result = runner.run(input=None)
    finally:
        logger.remove(sink)
        logger.disable("actors")
    assert result.status is InvocationStatus.SUCCEEDED
    assert json.loads(result.result or "null") == ["SUCCEEDED", "STARTED", "STARTED"]
    assert side_effects == []
    statuses = {op.name: op.status for op in result.get_all_operations() if op.name in ("slow", "after")}
    assert statuses == {"slow": OperationStatus.STARTED}, "the late steps stay as they were when the map ended"


def test_a_branch_raising_system_exit_ends_its_invocation_at_once_and_the_execution_is_retried() -> None:
    with DurableFunctionTestRunner(system_exit_in_branch, invocation_timeout=60) as runner:
        arn = runner.run_async(input=None, execution_timeout=3)
        result = runner.wait_for_result(arn, timeout=30)
    assert result.status is InvocationStatus.FAILED and "timed out" in str(result.error), "retried until its timeout"
    assert len(result.invocations) >= 2, "each invocation ended at once instead of hanging to its timeout"


def test_two_thousand_branches_waiting_on_nested_maps_do_not_take_a_thread_each() -> None:
    """Stand-ins start only when no pool thread is idle, and leave when their wait ends."""

    @durable_execution
    def handler(event: Any, context: DurableContext) -> Any:
        def inner(ctx: DurableContext, value: int, _index: int, _items: Any) -> int:
            return value * 2

        def outer(ctx: DurableContext, value: int, _index: int, _items: Any) -> int:
            return int(ctx.map([value], inner, name="inner").get_results()[0])

        return sum(context.map(list(range(event)), outer, name="outer").get_results())

    peak, done = [threading.active_count()], threading.Event()

    def sample() -> None:
        while not done.wait(0.005):
            peak[0] = max(peak[0], threading.active_count())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        result = _run(handler, 2000)
    finally:
        done.set()
        sampler.join()
    assert result.status is InvocationStatus.SUCCEEDED and json.loads(result.result or "null") == 1999 * 2000
    assert peak[0] < 400, f"{peak[0]} threads for 2,000 branches waiting on nested maps"
