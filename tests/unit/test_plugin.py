"""durable.plugin: the AWS SDK's plugin records and hooks, fired by every engine, never changing an execution."""

from __future__ import annotations

import contextvars
import dataclasses
import datetime
import json
import os
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from loguru import logger

from durable import DurableContext, StepContext, durable_execution
from durable.config import (
    ChildConfig,
    Duration,
    JitterStrategy,
    MapConfig,
    NestingType,
    ParallelBranch,
    ParallelConfig,
    StepConfig,
)
from durable.core.records import (
    ErrorObject,
    InvocationStatus,
    OperationAction,
    OperationRecord,
    OperationStatus,
    OperationSubType,
    OperationType,
    RecordUpdate,
)
from durable.engine import Engine
from durable.execution import DurableHandler
from durable.identifier import OperationIdentifier
from durable.plugin import (
    HOOK_TIMEOUT_ENV,
    DurableInstrumentationPlugin,
    InvocationEndInfo,
    InvocationInfo,
    InvocationStartInfo,
    OperationChangeInfo,
    OperationEndInfo,
    OperationInfo,
    OperationStartInfo,
    PluginExecutor,
    UserFunctionEndInfo,
    UserFunctionOutcome,
    UserFunctionStartInfo,
    current_invocation,
)
from durable.plugin_session import (
    InvocationMeta,
    PluginSession,
    changed_operations,
    updated_since_last_invocation,
)
from durable.retries import RetryStrategyConfig, create_retry_strategy
from durable.stores.base import ExecutionStatus
from durable.testing import CallbackOperation, DurableFunctionTestRunner
from durable.waits import WaitForConditionConfig, WaitForConditionDecision
from tests import plugin_workflows
from tests.conftest import wait_until

pytestmark = pytest.mark.timeout(120)

REPO = Path(__file__).resolve().parents[2]


def _plugged(func: Any, *plugins: DurableInstrumentationPlugin) -> DurableHandler[Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return durable_execution(plugins=list(plugins))(func)


def _retry(max_attempts: int) -> StepConfig:
    return StepConfig(
        retry_strategy=create_retry_strategy(
            RetryStrategyConfig(
                max_attempts=max_attempts,
                initial_delay=Duration.from_seconds(1),
                max_delay=Duration.from_seconds(1),
                jitter_strategy=JitterStrategy.NONE,
            )
        )
    )


class Recorder(DurableInstrumentationPlugin):
    """Keeps every info record it is given, in order."""

    def __init__(self) -> None:
        self.infos: list[Any] = []

    def on_invocation_start(self, info: InvocationStartInfo) -> None:
        self.infos.append(info)

    def on_invocation_end(self, info: InvocationEndInfo) -> None:
        self.infos.append(info)

    def on_operation_start(self, info: OperationStartInfo) -> None:
        self.infos.append(info)

    def on_operation_end(self, info: OperationEndInfo) -> None:
        self.infos.append(info)

    def on_operation_change(self, info: OperationChangeInfo) -> None:
        self.infos.append(info)

    def on_user_function_start(self, info: UserFunctionStartInfo) -> None:
        self.infos.append(info)

    def on_user_function_end(self, info: UserFunctionEndInfo) -> None:
        self.infos.append(info)

    def of(self, kind: type) -> list[Any]:
        return [info for info in self.infos if type(info) is kind]

    def trace(self) -> list[tuple[Any, ...]]:
        """A compact, comparable picture of what fired."""
        out: list[tuple[Any, ...]] = []
        for info in self.infos:
            match info:
                case InvocationStartInfo():
                    out.append(("invocation-start", info.is_first_invocation))
                case InvocationEndInfo():
                    out.append(("invocation-end", info.status.value))
                case OperationStartInfo():
                    out.append(("start", info.operation_id, info.is_replayed, info.status.value))
                case OperationEndInfo():
                    out.append(("end", info.operation_id, info.status.value))
                case OperationChangeInfo():
                    out.append(("change", {k: v.status.value for k, v in info.updated_operations.items()}))
                case UserFunctionStartInfo():
                    out.append(("fn-start", info.operation_id, info.attempt))
                case UserFunctionEndInfo():
                    out.append(("fn-end", info.operation_id, info.outcome.value))
        return out


@pytest.fixture
def durable_logs() -> Iterator[list[str]]:
    """The runtime's own log lines (the `durable` loggers are disabled by default)."""
    lines: list[str] = []
    logger.enable("durable")
    sink = logger.add(lambda message: lines.append(str(message)), level="DEBUG", filter="durable", format="{message}")
    try:
        yield lines
    finally:
        logger.remove(sink)
        logger.disable("durable")


# ----- the public surface


def _fields(cls: type) -> list[tuple[str, Any, bool]]:
    return [
        (f.name, f.default if f.default is not dataclasses.MISSING else "<required>", f.kw_only is True)
        for f in dataclasses.fields(cls)
    ]


def test_info_records_have_the_sdk_fields_in_order() -> None:
    base = [
        ("operation_id", "<required>", False),
        ("operation_type", "<required>", False),
        ("sub_type", "<required>", False),
        ("name", "<required>", False),
        ("parent_id", "<required>", False),
        ("start_time", "<required>", False),
        ("is_replayed", "<required>", False),
        ("status", "<required>", False),
        ("end_time", None, True),
        ("result", None, True),
        ("error", None, True),
        ("attempt", None, True),
    ]
    assert _fields(OperationInfo) == base
    assert _fields(OperationStartInfo) == base and _fields(OperationEndInfo) == base
    assert _fields(UserFunctionStartInfo) == [*base, ("is_replay_children", False, False)]
    assert _fields(UserFunctionEndInfo) == [
        *base, ("is_replay_children", "<required>", False), ("outcome", "<required>", False)
    ]
    assert [f.name for f in dataclasses.fields(OperationChangeInfo)] == [
        "execution_arn", "updated_operations", "operations"
    ]
    invocation = [
        ("request_id", "<required>", False),
        ("execution_arn", "<required>", False),
        ("is_first_invocation", "<required>", False),
        ("execution_start_time", None, False),
    ]
    assert _fields(InvocationInfo) == invocation and _fields(InvocationStartInfo) == invocation
    assert _fields(InvocationEndInfo) == [*invocation, ("status", "<required>", True), ("error", None, False)]
    for cls in (OperationInfo, OperationChangeInfo, UserFunctionEndInfo, InvocationEndInfo):
        assert getattr(cls, "__dataclass_params__").frozen  # noqa: B009
    assert issubclass(OperationStartInfo, OperationInfo) and issubclass(UserFunctionEndInfo, OperationInfo)
    assert issubclass(InvocationEndInfo, InvocationInfo)
    assert [o.value for o in UserFunctionOutcome] == ["SUCCEEDED", "FAILED"]
    assert UserFunctionOutcome.from_error(None) is UserFunctionOutcome.SUCCEEDED
    assert UserFunctionOutcome.from_error(ErrorObject("x")) is UserFunctionOutcome.FAILED


def test_operation_info_converts_records_to_utc_datetimes() -> None:
    record = OperationRecord(
        "1", OperationType.STEP, OperationStatus.SUCCEEDED, parent_id="p", name="n", sub_type=OperationSubType.STEP,
        start_timestamp=1_700_000_000.5, end_timestamp=1_700_000_001.0, result='"r"', attempt=2,
        error=ErrorObject("old attempt"),
    )
    info = OperationInfo.from_operation(record)
    assert info.start_time == datetime.datetime(2023, 11, 14, 22, 13, 20, 500000, tzinfo=datetime.UTC)
    assert info.end_time is not None and info.end_time.tzinfo is datetime.UTC
    assert (info.result, info.attempt, info.is_replayed, info.error) == ('"r"', 2, False, None)
    wait = OperationRecord("2", OperationType.WAIT, OperationStatus.STARTED, start_timestamp=1.0, attempt=1)
    assert OperationInfo.from_operation(wait, is_replayed=True).attempt is None
    assert OperationInfo.from_operation(wait, is_replayed=True).end_time is None


def test_user_function_end_info_comes_from_its_start() -> None:
    start = UserFunctionStartInfo(
        "1", OperationType.STEP, OperationSubType.STEP, "s", None, datetime.datetime.now(datetime.UTC), False,
        OperationStatus.STARTED, attempt=3,
    )
    end = UserFunctionEndInfo.from_start_info(start, ErrorObject("boom", "ValueError"))
    assert (end.attempt, end.outcome, end.is_replay_children, end.error) == (
        3, UserFunctionOutcome.FAILED, False, ErrorObject("boom", "ValueError")
    )
    assert end.end_time is not None and end.start_time is not None and end.end_time >= end.start_time


def test_operation_identifier_derives_the_type_from_the_sub_type() -> None:
    assert OperationIdentifier("1", OperationSubType.WAIT_FOR_CONDITION).type is OperationType.STEP
    assert OperationIdentifier("1", OperationSubType.PARALLEL_BRANCH, "p", "b").type is OperationType.CONTEXT
    assert OperationIdentifier("1", OperationSubType.CHAINED_INVOKE).type is OperationType.CHAINED_INVOKE


def test_durable_execution_takes_plugins_like_the_sdk() -> None:
    def handler(event: Any, context: DurableContext) -> str:
        return "ok"

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert durable_execution(handler).plugins == ()
        assert durable_execution()(handler).plugins == ()
        assert durable_execution(plugins=[])(handler).plugins == ()
    plugin = Recorder()
    with pytest.warns(FutureWarning, match="provisional"):
        with_plugins = durable_execution(plugins=[plugin])(handler)
    assert isinstance(with_plugins, DurableHandler) and with_plugins.plugins == (plugin,)
    assert with_plugins.name == "handler" and with_plugins.__wrapped__ is handler  # type: ignore[attr-defined]
    with pytest.warns(FutureWarning):
        assert durable_execution(handler, boto3_client=object(), plugins=[plugin]).plugins == (plugin,)


# ----- where hooks fire


def test_hooks_of_a_three_invocation_execution() -> None:
    recorder = Recorder()

    def handler(event: Any, context: DurableContext) -> list[str]:
        first = context.step(lambda _: "a", name="a")
        context.wait(Duration.from_seconds(2))

        def flaky(step_context: StepContext) -> str:
            if step_context.attempt < 2:
                raise ValueError("boom")
            return "b"

        second = context.step(flaky, name="b", config=_retry(3))
        third = context.run_in_child_context(lambda child: child.step(lambda _: "c"), name="child")
        return [first, second, third]

    with DurableFunctionTestRunner(_plugged(handler, recorder)) as runner:
        result = runner.run()
    assert result.status is InvocationStatus.SUCCEEDED
    assert recorder.trace() == [
        ("invocation-start", True),
        ("start", "1", False, "STARTED"),
        ("fn-start", "1", 1),
        ("fn-end", "1", "SUCCEEDED"),
        ("end", "1", "SUCCEEDED"),
        ("change", {"1": "SUCCEEDED"}),
        ("start", "2", False, "STARTED"),
        ("change", {"2": "STARTED"}),
        ("invocation-end", "PENDING"),
        # the wait fired between invocations: its end is reported once, when the handler reaches it
        ("invocation-start", False),
        ("end", "2", "SUCCEEDED"),
        ("start", "3", False, "STARTED"),
        ("fn-start", "3", 1),
        ("fn-end", "3", "FAILED"),
        ("change", {"3": "PENDING"}),
        ("invocation-end", "PENDING"),
        # the retry re-starts an operation that existed: replayed; step 1 and the wait are not reported again
        ("invocation-start", False),
        ("start", "3", True, "STARTED"),
        ("fn-start", "3", 2),
        ("fn-end", "3", "SUCCEEDED"),
        ("end", "3", "SUCCEEDED"),
        ("change", {"3": "SUCCEEDED"}),
        ("start", "4", False, "STARTED"),
        ("fn-start", "4", 1),
        ("start", "4-1", False, "STARTED"),
        ("fn-start", "4-1", 1),
        ("fn-end", "4-1", "SUCCEEDED"),
        ("end", "4-1", "SUCCEEDED"),
        ("change", {"4-1": "SUCCEEDED"}),
        ("fn-end", "4", "SUCCEEDED"),
        ("end", "4", "SUCCEEDED"),
        ("change", {"4": "SUCCEEDED"}),
        ("invocation-end", "SUCCEEDED"),
    ]
    starts = recorder.of(InvocationStartInfo)
    assert [s.request_id for s in starts] == ["1", "2", "3"]
    assert {s.execution_arn for s in starts} == {result.execution_arn}
    assert len({s.execution_start_time for s in starts}) == 1 and starts[0].execution_start_time is not None
    ends = {info.operation_id: info for info in recorder.of(OperationEndInfo)}
    assert ends["3"].attempt == 2 and ends["3"].result == '"b"' and ends["3"].error is None
    assert ends["4-1"].parent_id == "4" and ends["4"].parent_id is None
    assert ends["2"].start_time is not None and ends["2"].end_time is not None
    last_change = recorder.of(OperationChangeInfo)[-1]
    assert last_change.execution_arn == result.execution_arn
    assert set(last_change.operations) == {"1", "2", "3", "4", "4-1"}
    fn_end = recorder.of(UserFunctionEndInfo)[1]
    assert fn_end.error is not None and fn_end.error.message == "boom"


def test_a_non_terminal_operation_met_on_replay_starts_again_as_replayed() -> None:
    recorder = Recorder()

    def handler(event: Any, context: DurableContext) -> Any:
        callback = context.create_callback(name="approval")
        return callback.result()

    with DurableFunctionTestRunner(_plugged(handler, recorder)) as runner:
        arn = runner.run_async()
        callback_id = runner.wait_for_callback(arn)
        # an outside event that wakes the execution while the callback stays open: a heartbeat does not
        runner.send_callback_success(callback_id, json.dumps("yes"))
        result = runner.wait_for_result(arn)
    assert result.status is InvocationStatus.SUCCEEDED and json.loads(result.result or "") == '"yes"'
    trace = recorder.trace()
    assert trace.count(("start", "1", False, "STARTED")) == 1
    assert trace.count(("end", "1", "SUCCEEDED")) == 1
    # completed outside the handler while it was suspended: reported on the next invocation, not before
    assert trace.index(("end", "1", "SUCCEEDED")) > trace.index(("invocation-start", False))


def test_an_outside_completion_during_an_invocation_is_reported_by_it_once(tmp_path: Path) -> None:
    recorder = Recorder()
    release = tmp_path / "release"

    def handler(event: Any, context: DurableContext) -> Any:
        callback = context.create_callback(name="fast")

        def blocks(_: StepContext) -> str:
            while not release.exists():
                time.sleep(0.01)
            return "released"

        context.step(blocks, name="blocks")
        context.wait(Duration.from_seconds(1))
        return callback.result()

    with DurableFunctionTestRunner(_plugged(handler, recorder)) as runner:
        arn = runner.run_async()
        callback_id = wait_until(
            lambda: next((op.callback_id for op in runner.get_result(arn).operations
                          if isinstance(op, CallbackOperation) and op.callback_id), None),
            what="the callback's id (the invocation is still running, so the runner's wait_for_callback would wait)",
        )
        runner.send_callback_success(str(callback_id), json.dumps("yes"))
        release.touch()
        result = runner.wait_for_result(arn)
    assert result.status is InvocationStatus.SUCCEEDED
    trace = recorder.trace()
    # completed while the first invocation ran and never reached again there: that invocation reports it
    assert trace.count(("end", "1", "SUCCEEDED")) == 1
    assert trace.index(("end", "1", "SUCCEEDED")) < trace.index(("invocation-end", "PENDING"))


def test_replayed_start_for_an_operation_still_open_in_a_later_invocation() -> None:
    recorder = Recorder()

    def handler(event: Any, context: DurableContext) -> Any:
        def branch(seconds: int) -> Any:
            return lambda child: child.wait(Duration.from_seconds(seconds), name=f"w{seconds}") or seconds

        batch = context.parallel([branch(1), branch(3)], config=ParallelConfig(max_concurrency=2))
        return batch.get_results()

    with DurableFunctionTestRunner(_plugged(handler, recorder)) as runner:
        result = runner.run()
    assert result.status is InvocationStatus.SUCCEEDED
    waits = [i for i in recorder.of(OperationStartInfo) if i.operation_type is OperationType.WAIT]
    by_name: dict[str | None, list[tuple[bool, str]]] = {}
    for info in waits:
        by_name.setdefault(info.name, []).append((info.is_replayed, info.status.value))
    assert by_name["w1"] == [(False, "STARTED")]
    assert by_name["w3"][0] == (False, "STARTED") and (True, "STARTED") in by_name["w3"][1:]
    ends = [i.name for i in recorder.of(OperationEndInfo) if i.operation_type is OperationType.WAIT]
    assert sorted(ends) == ["w1", "w3"]


def test_user_function_hooks_for_map_parallel_and_wait_for_condition() -> None:
    recorder = Recorder()

    def handler(event: Any, context: DurableContext) -> Any:
        nested = context.map([1, 2], lambda child, item, index, items: item * 10, name="m")
        flat = context.map(
            [3], lambda child, item, index, items: child.step(lambda _: item), name="flat",
            config=MapConfig(nesting_type=NestingType.FLAT),
        )
        only: list[Any] = [ParallelBranch(lambda child: "x", name="only")]
        branches = context.parallel(only, name="p")

        def check(state: int, _: Any) -> int:
            return state + 1

        polled = context.wait_for_condition(
            check,
            WaitForConditionConfig(
                initial_state=0,
                wait_strategy=lambda state, attempt: (
                    WaitForConditionDecision.stop_polling()
                    if state >= 2
                    else WaitForConditionDecision.continue_waiting(Duration.from_seconds(1))
                ),
            ),
            name="poll",
        )
        return [nested.get_results(), flat.get_results(), branches.get_results(), polled]

    with DurableFunctionTestRunner(_plugged(handler, recorder)) as runner:
        result = runner.run()
    assert result.status is InvocationStatus.SUCCEEDED, result.error
    assert json.loads(result.result or "") == [[10, 20], [3], ["x"], 2]
    starts = recorder.of(UserFunctionStartInfo)
    kinds = [(i.sub_type, i.name, i.attempt) for i in starts]
    assert (OperationSubType.MAP, "m", 1) in kinds and (OperationSubType.PARALLEL, "p", 1) in kinds
    assert sum(1 for k in kinds if k[0] is OperationSubType.MAP_ITERATION) == 3
    assert (OperationSubType.PARALLEL_BRANCH, "only", 1) in kinds
    polls = [i.attempt for i in starts if i.sub_type is OperationSubType.WAIT_FOR_CONDITION]
    assert polls == [1, 2]
    # the FLAT item has no checkpoint: its end comes from the runtime, without a start time
    flat = [i for i in recorder.of(OperationEndInfo) if i.sub_type is OperationSubType.MAP_ITERATION]
    virtual = [i for i in flat if i.start_time is None]
    assert len(virtual) == 1 and virtual[0].status is OperationStatus.SUCCEEDED
    branch = next(i for i in starts if i.name == "only")
    parallel = next(i for i in starts if i.name == "p")
    assert branch.parent_id == parallel.operation_id
    assert len(recorder.of(UserFunctionStartInfo)) == len(recorder.of(UserFunctionEndInfo))


def test_a_context_rebuilding_a_large_result_reports_replay_children() -> None:
    recorder = Recorder()
    big = "x" * (300 * 1024)

    def handler(event: Any, context: DurableContext) -> int:
        value = context.run_in_child_context(
            lambda child: child.step(lambda _: big, config=StepConfig(serdes=None)), name="big",
            config=ChildConfig(),
        )
        context.wait(Duration.from_seconds(1))
        return len(value)

    with DurableFunctionTestRunner(_plugged(handler, recorder)) as runner:
        result = runner.run()
    assert result.status is InvocationStatus.SUCCEEDED and json.loads(result.result or "") == len(big)
    rebuilt = [i for i in recorder.of(UserFunctionStartInfo) if i.name == "big" and i.is_replay_children]
    assert len(rebuilt) == 1
    ends = [i for i in recorder.of(OperationEndInfo) if i.name == "big"]
    succeeded = OperationStatus.SUCCEEDED
    assert [(e.is_replayed, e.status) for e in ends] == [(False, succeeded), (True, succeeded)]


def test_a_failed_execution_and_a_failed_user_function() -> None:
    recorder = Recorder()

    def handler(event: Any, context: DurableContext) -> Any:
        def fails(_: StepContext) -> Any:
            raise ValueError("no")

        return context.step(fails, config=_retry(1))

    with DurableFunctionTestRunner(_plugged(handler, recorder)) as runner:
        result = runner.run()
    assert result.status is InvocationStatus.FAILED
    end = recorder.of(InvocationEndInfo)[-1]
    assert end.status is InvocationStatus.FAILED and end.error is not None and end.is_first_invocation
    operation_end = recorder.of(OperationEndInfo)[-1]
    assert operation_end.status is OperationStatus.FAILED and operation_end.error is not None
    assert operation_end.error.message == "no" and operation_end.result is None


# ----- plugins never change an execution


class Raising(DurableInstrumentationPlugin):
    def __init__(self) -> None:
        self.calls = 0

    def _raise(self, info: Any) -> None:
        self.calls += 1
        raise RuntimeError("plugin bug")

    on_invocation_start = on_invocation_end = on_operation_start = on_operation_end = _raise
    on_operation_change = on_user_function_start = on_user_function_end = _raise


class Exiting(DurableInstrumentationPlugin):
    def on_operation_start(self, info: OperationStartInfo) -> None:
        raise SystemExit(3)


def test_a_raising_plugin_is_logged_and_ignored(durable_logs: list[str]) -> None:
    recorder, raising = Recorder(), Raising()

    def handler(event: Any, context: DurableContext) -> str:
        return context.step(lambda _: "ok", name="s")

    with DurableFunctionTestRunner(_plugged(handler, raising, Exiting(), recorder)) as runner:
        result = runner.run()
    assert result.status is InvocationStatus.SUCCEEDED and result.result == '"ok"'
    assert raising.calls == 7
    assert len(recorder.infos) == 7  # the plugin after the broken ones still got every hook
    assert any("plugin Raising raised RuntimeError in on_invocation_start; ignored" in line for line in durable_logs)
    assert any("plugin Exiting raised SystemExit in on_operation_start" in line for line in durable_logs)


class Hanging(DurableInstrumentationPlugin):
    def __init__(self, release: threading.Event) -> None:
        self.release = release
        self.calls = 0

    def _hang(self, info: Any) -> None:
        self.calls += 1
        self.release.wait()

    on_operation_start = on_operation_end = on_user_function_start = _hang


def test_a_hanging_plugin_is_bounded_by_the_hook_timeout(
    monkeypatch: pytest.MonkeyPatch, durable_logs: list[str]
) -> None:
    monkeypatch.setenv(HOOK_TIMEOUT_ENV, "0.3")
    release = threading.Event()
    hanging, recorder = Hanging(release), Recorder()

    def handler(event: Any, context: DurableContext) -> list[str]:
        return [context.step(lambda _: "a"), context.step(lambda _: "b"), context.step(lambda _: "c")]

    try:
        began = time.monotonic()
        with DurableFunctionTestRunner(_plugged(handler, hanging, recorder)) as runner:
            first = runner.run()
            second = runner.run()
        took = time.monotonic() - began
    finally:
        release.set()
    assert first.status is second.status is InvocationStatus.SUCCEEDED
    # one timeout, then the plugin is skipped while its hung call runs, in this invocation and the next
    assert hanging.calls == 1 and took < 5
    assert len(recorder.of(OperationEndInfo)) == 6
    assert any("did not return from on_operation_start within 0.3 s" in line for line in durable_logs)
    assert any("skipped: an earlier hook of it is still running" in line for line in durable_logs)


def test_hooks_carry_contextvars_back_to_the_user_code() -> None:
    attempt_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("attempt_var", default=None)
    seen: list[Any] = []

    class Tagging(DurableInstrumentationPlugin):
        def on_user_function_start(self, info: UserFunctionStartInfo) -> None:
            attempt_var.set(f"{info.operation_id}#{info.attempt}")
            seen.append(current_invocation())

    def handler(event: Any, context: DurableContext) -> list[Any]:
        return [context.step(lambda _: attempt_var.get()), context.step(lambda _: attempt_var.get())]

    with DurableFunctionTestRunner(_plugged(handler, Tagging())) as runner:
        result = runner.run()
    assert json.loads(result.result or "") == ["1#1", "2#1"]
    assert all(isinstance(info, InvocationStartInfo) for info in seen)
    assert attempt_var.get() is None  # nothing leaks into the caller of the engine


def test_concurrent_executions_of_one_handler_keep_their_invocations_apart() -> None:
    arns: dict[str, set[str | None]] = {}

    class PerInvocation(DurableInstrumentationPlugin):
        def on_operation_end(self, info: OperationEndInfo) -> None:
            current = current_invocation()
            assert current is not None and current.execution_arn is not None
            arns.setdefault(current.execution_arn, set()).add(info.name)

    def handler(event: Any, context: DurableContext) -> str:
        return str(context.step(lambda _: event, name=str(event)))

    with DurableFunctionTestRunner(_plugged(handler, PerInvocation()), workers=4) as runner:
        started = {runner.run_async(input=f"n{i}"): f"n{i}" for i in range(8)}
        for arn in started:
            assert runner.wait_for_result(arn).status is InvocationStatus.SUCCEEDED
    assert {arn: names for arn, names in arns.items()} == {arn: {name} for arn, name in started.items()}


# ----- every engine fires them


def _read_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


@pytest.mark.parametrize("isolation", ["thread", "process"])
def test_plugins_attached_by_the_decorator_fire_under_both_isolations(
    isolation: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, store_url: str
) -> None:
    record = tmp_path / "hooks.jsonl"
    monkeypatch.setenv(plugin_workflows.RECORD_ENV, str(record))
    with Engine(store=store_url, isolation=isolation, workers=2) as engine:
        engine.register(plugin_workflows.recorded)
        execution = engine.start("recorded")
        ended = engine.wait(execution, timeout=60)
    assert ended.status is ExecutionStatus.SUCCEEDED, ended.error
    lines = _read_lines(record)
    invocations = [line for line in lines if line["hook"] == "invocation-start"]
    assert [line["first"] for line in invocations] == [True, False, False]
    assert [line["status"] for line in lines if line["hook"] == "invocation-end"] == ["PENDING", "PENDING", "SUCCEEDED"]
    pids = {line["pid"] for line in lines}
    assert (pids == {os.getpid()}) is (isolation == "thread")
    ends = sorted(line["op"] for line in lines if line["hook"] == "operation-end")
    assert ends == ["1", "2", "3", "4", "4-1"]
    replayed = [line["op"] for line in lines if line["hook"] == "operation-start" and line["replayed"]]
    assert replayed == ["3"]


def test_the_cli_runs_plugins_too(tmp_path: Path) -> None:
    record = tmp_path / "hooks.jsonl"
    done = subprocess.run(
        [sys.executable, "-m", "durable.cli", "--store", f"sqlite:///{tmp_path / 'cli.db'}", "run",
         "tests.plugin_workflows:recorded"],
        cwd=REPO, capture_output=True, text=True, timeout=60,
        env={**os.environ, plugin_workflows.RECORD_ENV: str(record)},
    )
    assert done.returncode == 0, done.stderr
    hooks = [line["hook"] for line in _read_lines(record)]
    assert hooks.count("invocation-start") == 3 and hooks[-1] == "invocation-end"


# ----- the executor and its parts


def test_updated_operations_are_those_after_the_last_invocation() -> None:
    history = [
        {"EventType": "ExecutionStarted"},
        {"EventType": "StepStarted", "Id": "1"},
        {"EventType": "InvocationCompleted"},
        {"EventType": "WaitSucceeded", "Id": "2"},
        {"EventType": "CallbackSucceeded", "Id": "3"},
    ]
    assert updated_since_last_invocation(history) == {"2", "3"}
    assert updated_since_last_invocation(history[:2]) == frozenset()
    assert updated_since_last_invocation(history[:3]) == frozenset()
    later = [*history, {"EventType": "InvocationCompleted"}, {"EventType": "CallbackSucceeded", "Id": "4"}]
    assert changed_operations(later) == (frozenset({"4"}), frozenset({"2", "3"}))
    assert changed_operations(history) == (frozenset({"2", "3"}), frozenset({"1"}))


def test_which_outside_ends_an_invocation_reports() -> None:
    fired = OperationRecord("w", OperationType.WAIT, OperationStatus.SUCCEEDED, start_timestamp=1.0, end_timestamp=2.0)
    step = OperationRecord("s", OperationType.STEP, OperationStatus.SUCCEEDED, start_timestamp=1.0, end_timestamp=2.0)
    invocation = type("FakeInvocation", (), {"snapshot": {"w": fired, "s": step}})()

    def news(operation: OperationRecord, **meta: Any) -> bool:
        session = PluginSession(PluginExecutor([Recorder()]), invocation, InvocationMeta(**meta))
        return session._news(operation.operation_id, operation)

    assert news(fired, updated_operation_ids=frozenset({"w"}))  # ended after the previous invocation
    assert not news(fired)  # ended before it: that one reported it
    # ended while the previous invocation ran: reported now unless that one did
    assert news(fired, recent_operation_ids=frozenset({"w"}), reported_operation_ids=frozenset())
    assert not news(fired, recent_operation_ids=frozenset({"w"}), reported_operation_ids=frozenset({"w"}))
    assert not news(fired, recent_operation_ids=frozenset({"w"}))  # not known (engine restart): not twice
    assert not news(step, updated_operation_ids=frozenset({"s"}))  # a step's end is reported by its checkpoint
    started = OperationRecord("new", OperationType.CALLBACK, OperationStatus.SUCCEEDED)
    assert news(started)  # not even in the snapshot: ended during this invocation


def test_the_executor_fires_nothing_outside_run() -> None:
    recorder = Recorder()
    executor = PluginExecutor([recorder], hook_timeout=1)
    executor.on_invocation_start("arn", True, None)
    assert recorder.infos == []
    with executor.run():
        executor.on_invocation_start("arn", True, None, request_id="r")
        executor.on_operation_action(
            RecordUpdate("1", OperationType.STEP, OperationAction.SUCCEED, sub_type=OperationSubType.STEP)
        )
        executor.on_operation_replay(OperationRecord("1", OperationType.WAIT, OperationStatus.SUCCEEDED))
        executor.on_operation_action(
            RecordUpdate("1", OperationType.STEP, OperationAction.START, sub_type=OperationSubType.STEP)
        )
    assert [type(i) for i in recorder.infos] == [InvocationStartInfo, OperationStartInfo]
    assert executor.hook_timeout == 1 and executor.plugins == [recorder]
    with executor.run():  # a block's end forgets its invocation: no end without a start
        executor.on_invocation_end(object())
    assert len(recorder.infos) == 2


def test_handle_durable_output_reports_a_runtime_failure_as_retry() -> None:
    recorder = Recorder()
    executor = PluginExecutor([recorder])

    @executor.handle_durable_output
    def invocation(fail: bool) -> Any:
        executor.on_invocation_start("arn", False, None)
        if fail:
            raise RuntimeError("fenced")
        return ErrorObject  # not an outcome: on_invocation_end's failure is the plugin runtime's, logged

    with pytest.raises(RuntimeError, match="fenced"):
        invocation(True)
    end = recorder.of(InvocationEndInfo)[-1]
    assert end.status is InvocationStatus.RETRY and end.error is not None and end.error.message == "fenced"

    class Outcome:
        status = "SUCCEEDED"
        error = None

    @executor.handle_durable_output
    def succeeding() -> Any:
        executor.on_invocation_start("arn", False, None)
        return Outcome()

    assert isinstance(succeeding(), Outcome)
    assert recorder.of(InvocationEndInfo)[-1].status is InvocationStatus.SUCCEEDED
