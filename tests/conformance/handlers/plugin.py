"""Handlers for the plugin requirements (10-x), one per requirement id.

The requirements have the plugin "log a JSON object to plain stdout"; here
each record is logged through loguru bound to the execution (the
`durableExecutionArn` the plugin captured at invocation start), which is
how the test runner collects an execution's log lines.  The structured
`ExpectedLogs` matchers parse each line back as JSON.

"Canonical dumps" (10-19 .. 10-23) map every field the info record has to
the requirement's camelCase name and leave out unset ones; fields our info
records do not have are simply absent, which is what those requirements
probe for.
"""

from __future__ import annotations

import json
import logging
import warnings
from collections.abc import Callable, Sequence
from typing import Any

from durable import DurableContext, StepContext, durable_execution
from durable.config import Duration, JitterStrategy, ParallelBranch, ParallelConfig, StepConfig
from durable.core.records import InvocationStatus, OperationSubType, OperationType
from durable.plugin import (
    DurableInstrumentationPlugin,
    InvocationEndInfo,
    InvocationInfo,
    InvocationStartInfo,
    OperationChangeInfo,
    OperationEndInfo,
    OperationInfo,
    OperationStartInfo,
    UserFunctionEndInfo,
    UserFunctionStartInfo,
)
from durable.retries import RetryDecision, RetryStrategyConfig, create_retry_strategy

from . import handler_registry

HANDLERS, requirement = handler_registry()

#: the plugins' own logger, at INFO whatever the root logger's level, so their lines reach the runner's logs
PLUGIN_LOG = logging.getLogger("conformance.plugin")
PLUGIN_LOG.setLevel(logging.INFO)
TERMINAL = frozenset({InvocationStatus.SUCCEEDED, InvocationStatus.FAILED})


def _retries(max_attempts: int) -> Callable[[Exception, int], RetryDecision]:
    """A retry strategy with a fixed 1 s delay."""
    return create_retry_strategy(
        RetryStrategyConfig(
            max_attempts=max_attempts,
            initial_delay=Duration.from_seconds(1),
            max_delay=Duration.from_seconds(1),
            backoff_rate=1.0,
            jitter_strategy=JitterStrategy.NONE,
        )
    )


def _handler(func: Callable[[Any, DurableContext], Any], plugins: Sequence[DurableInstrumentationPlugin]) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # plugins= is provisional; the requirement is about it
        return durable_execution(plugins=list(plugins))(func)


class ConfPlugin(DurableInstrumentationPlugin):
    """Logs records stamped with its name and the execution arn it saw at invocation start."""

    def __init__(self, name: str = "CONFPLUGIN") -> None:
        self.name = name
        self.arn = ""
        self.first: bool | None = None

    def emit(self, **fields: Any) -> None:
        record = {"plugin": self.name, **fields, "durableExecutionArn": self.arn}
        PLUGIN_LOG.info(json.dumps(record), extra={"executionArn": self.arn})

    def remember(self, info: InvocationStartInfo) -> None:
        self.arn = info.execution_arn or ""
        self.first = info.is_first_invocation


def _greet(event: Any, context: DurableContext) -> str:
    return context.step(lambda _: f"Hello, {event}!")


def _only(operation_type: OperationType, info: OperationInfo) -> bool:
    return info.operation_type is operation_type


def _iso(moment: Any) -> str | None:
    return moment.isoformat() if moment is not None else None


def _dump_operation(info: OperationInfo) -> dict[str, Any]:
    """The canonical camelCase dump of an operation-shaped info; None fields left out."""
    fields: dict[str, Any] = {
        "id": info.operation_id,
        "name": info.name,
        "type": info.operation_type.value,
        "subType": info.sub_type.value if info.sub_type is not None else None,
        "parentId": info.parent_id,
        "status": info.status.value,
        "startTimestamp": _iso(info.start_time),
        "endTimestamp": _iso(info.end_time),
        "result": info.result,
        "error": info.error.message if info.error is not None else None,
        "attempt": info.attempt,
        "isReplay": info.is_replayed,
    }
    if isinstance(info, UserFunctionStartInfo | UserFunctionEndInfo):
        fields["isReplayingChildren"] = info.is_replay_children
    if isinstance(info, UserFunctionEndInfo):
        fields["outcome"] = info.outcome.value
    return {key: value for key, value in fields.items() if value is not None}


def _dump_invocation(info: InvocationInfo) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "isFirstInvocation": info.is_first_invocation,
        "requestId": info.request_id,
        "executionStartTimestamp": _iso(info.execution_start_time),
    }
    if isinstance(info, InvocationEndInfo):
        fields["status"] = info.status.value
        fields["terminal"] = info.status in TERMINAL
        fields["executionError"] = info.error.message if info.error is not None else None
    return {key: value for key, value in fields.items() if value is not None}


# ----- 10-1, 10-5, 10-6, 10-7, 10-16: invocation hooks


class InvocationHooks(ConfPlugin):
    """invocation-start {first} and invocation-end {status}; `end_first` adds first/terminal to the end."""

    def __init__(self, name: str = "CONFPLUGIN", end_first: bool = False) -> None:
        super().__init__(name)
        self.end_first = end_first

    def on_invocation_start(self, info: InvocationStartInfo) -> None:
        self.remember(info)
        self.emit(hook="invocation-start", first=info.is_first_invocation)

    def on_invocation_end(self, info: InvocationEndInfo) -> None:
        if self.end_first:
            self.emit(
                hook="invocation-end",
                first=info.is_first_invocation,
                terminal=info.status in TERMINAL,
                status=info.status.value,
            )
        else:
            self.emit(hook="invocation-end", status=info.status.value)


@requirement("10-1")
def h_10_1() -> Any:
    def handler(event: Any, context: DurableContext) -> str:
        def greet(step_context: StepContext) -> str:
            step_context.logger.info(f"Greeting step running for: {event}")
            return f"Hello, {event}!"

        return context.step(greet)

    return _handler(handler, [InvocationHooks()])


@requirement("10-5")
def h_10_5() -> Any:
    return _handler(_greet, [InvocationHooks("CONFPLUGIN-A"), InvocationHooks("CONFPLUGIN-B")])


def _wait_two_seconds(event: Any, context: DurableContext) -> None:
    context.wait(Duration.from_seconds(2))


@requirement("10-6")
def h_10_6() -> Any:
    return _handler(_wait_two_seconds, [InvocationHooks()])


@requirement("10-7")
def h_10_7() -> Any:
    def handler(event: Any, context: DurableContext) -> Any:
        def failing(_: StepContext) -> Any:
            raise RuntimeError("this step always fails")

        return context.step(failing, config=StepConfig(retry_strategy=_retries(1)))

    return _handler(handler, [InvocationHooks()])


@requirement("10-16")
def h_10_16() -> Any:
    return _handler(_wait_two_seconds, [InvocationHooks(end_first=True)])


# ----- 10-2, 10-10, 10-13, 10-14, 10-18: operation hooks


class OperationHooks(ConfPlugin):
    """operation-start / operation-end of one operation type, with the fields `fields` picks."""

    def __init__(
        self,
        operation_type: OperationType,
        start: Callable[[OperationStartInfo], dict[str, Any]] | None,
        end: Callable[[OperationEndInfo], dict[str, Any]] | None,
    ) -> None:
        super().__init__()
        self.operation_type = operation_type
        self.start = start
        self.end = end

    def on_invocation_start(self, info: InvocationStartInfo) -> None:
        self.remember(info)

    def on_operation_start(self, info: OperationStartInfo) -> None:
        if self.start is not None and _only(self.operation_type, info):
            self.emit(hook="operation-start", **self.start(info))

    def on_operation_end(self, info: OperationEndInfo) -> None:
        if self.end is not None and _only(self.operation_type, info):
            self.emit(hook="operation-end", **self.end(info))


@requirement("10-2")
def h_10_2() -> Any:
    plugin = OperationHooks(
        OperationType.STEP,
        lambda info: {"op": info.operation_id},
        lambda info: {"op": info.operation_id, "status": info.status.value},
    )
    return _handler(_greet, [plugin])


@requirement("10-10")
def h_10_10() -> Any:
    plugin = OperationHooks(
        OperationType.WAIT,
        lambda info: {"op": info.operation_id, "type": info.operation_type.value.upper()},
        lambda info: {"op": info.operation_id, "type": info.operation_type.value.upper(), "status": info.status.value},
    )
    return _handler(_wait_two_seconds, [plugin])


def _fails_once(step_context: StepContext) -> str:
    if step_context.attempt < 2:
        raise RuntimeError(f"attempt {step_context.attempt} fails")
    return "Operation succeeded"


@requirement("10-13")
def h_10_13() -> Any:
    def handler(event: Any, context: DurableContext) -> str:
        context.step(lambda _: "step A")
        return context.step(_fails_once, config=StepConfig(retry_strategy=_retries(3)))

    plugin = OperationHooks(
        OperationType.STEP,
        lambda info: {"op": info.operation_id, "replay": info.is_replayed},
        lambda info: {"op": info.operation_id, "status": info.status.value},
    )
    return _handler(handler, [plugin])


@requirement("10-14")
def h_10_14() -> Any:
    def handler(event: Any, context: DurableContext) -> Any:
        context.step(lambda _: "task-a")

        def boom(_: StepContext) -> Any:
            raise RuntimeError("boom")

        return context.step(boom, config=StepConfig(retry_strategy=_retries(1)))

    plugin = OperationHooks(
        OperationType.STEP,
        None,
        lambda info: {
            "op": info.operation_id,
            "status": info.status.value,
            "result": info.result if info.result is not None else "NONE",
            "error": info.error.message if info.error is not None and info.error.message else "NONE",
        },
    )
    return _handler(handler, [plugin])


@requirement("10-18")
def h_10_18() -> Any:
    def waits_for(name: str, seconds: int, result: str) -> Callable[[DurableContext], str]:
        def branch(context: DurableContext) -> str:
            context.wait(Duration.from_seconds(seconds), name=name)
            return result

        return branch

    def handler(event: Any, context: DurableContext) -> Any:
        branches = [waits_for("short", 2, "short-done"), waits_for("long", 8, "long-done")]
        return context.parallel(branches, name="waits", config=ParallelConfig(max_concurrency=2)).get_results()

    plugin = OperationHooks(
        OperationType.WAIT,
        lambda info: {
            "type": info.operation_type.value.upper(),
            "name": info.name,
            "replay": info.is_replayed,
            "pending": not info.status.is_terminal,
        },
        lambda info: {"type": info.operation_type.value.upper(), "name": info.name, "status": info.status.value},
    )
    return _handler(handler, [plugin])


# ----- 10-3, 10-15: attempt hooks


class AttemptHooks(ConfPlugin):
    """attempt-start / attempt-end of step attempts; with `ends`, operation-end of steps too."""

    def __init__(self, ends: bool = False) -> None:
        super().__init__()
        self.ends = ends

    def on_invocation_start(self, info: InvocationStartInfo) -> None:
        self.remember(info)

    def on_user_function_start(self, info: UserFunctionStartInfo) -> None:
        if _only(OperationType.STEP, info):
            self.emit(hook="attempt-start", n=info.attempt, op=info.operation_id)

    def on_user_function_end(self, info: UserFunctionEndInfo) -> None:
        if _only(OperationType.STEP, info):
            self.emit(hook="attempt-end", n=info.attempt, outcome=info.outcome.value, op=info.operation_id)

    def on_operation_end(self, info: OperationEndInfo) -> None:
        if self.ends and _only(OperationType.STEP, info):
            self.emit(hook="operation-end", op=info.operation_id, status=info.status.value)


@requirement("10-3")
def h_10_3() -> Any:
    def handler(event: Any, context: DurableContext) -> str:
        return context.step(_fails_once, config=StepConfig(retry_strategy=_retries(3)))

    return _handler(handler, [AttemptHooks()])


@requirement("10-15")
def h_10_15() -> Any:
    def handler(event: Any, context: DurableContext) -> Any:
        def always_fails(step_context: StepContext) -> Any:
            raise RuntimeError(f"attempt {step_context.attempt} fails")

        return context.step(always_fails, config=StepConfig(retry_strategy=_retries(2)))

    return _handler(handler, [AttemptHooks(ends=True)])


# ----- 10-4, 10-17: faulty plugins


class FaultyPlugin(ConfPlugin):
    """Every hook logs, then raises (operation and attempt hooks log for steps only)."""

    def __init__(self) -> None:
        super().__init__("CONFPLUGIN-FAULTY")

    def fail(self, hook: str, info: Any = None) -> None:
        if info is None or _only(OperationType.STEP, info):
            self.emit(hook=hook)
        raise RuntimeError(f"{self.name} fails in {hook}")

    def on_invocation_start(self, info: InvocationStartInfo) -> None:
        self.remember(info)
        self.fail("invocation-start")

    def on_invocation_end(self, info: InvocationEndInfo) -> None:
        self.fail("invocation-end")

    def on_operation_start(self, info: OperationStartInfo) -> None:
        self.fail("operation-start", info)

    def on_operation_end(self, info: OperationEndInfo) -> None:
        self.fail("operation-end", info)

    def on_user_function_start(self, info: UserFunctionStartInfo) -> None:
        self.fail("attempt-start", info)

    def on_user_function_end(self, info: UserFunctionEndInfo) -> None:
        self.fail("attempt-end", info)


class HealthyPlugin(ConfPlugin):
    def __init__(self) -> None:
        super().__init__("CONFPLUGIN-HEALTHY")

    def on_invocation_start(self, info: InvocationStartInfo) -> None:
        self.remember(info)
        self.emit(hook="invocation-start", first=info.is_first_invocation)

    def on_invocation_end(self, info: InvocationEndInfo) -> None:
        self.emit(hook="invocation-end", status=info.status.value)

    def on_operation_start(self, info: OperationStartInfo) -> None:
        if _only(OperationType.STEP, info):
            self.emit(hook="operation-start", op=info.operation_id)

    def on_operation_end(self, info: OperationEndInfo) -> None:
        if _only(OperationType.STEP, info):
            self.emit(hook="operation-end", op=info.operation_id, status=info.status.value)

    def on_user_function_start(self, info: UserFunctionStartInfo) -> None:
        if _only(OperationType.STEP, info):
            self.emit(hook="attempt-start", op=info.operation_id)

    def on_user_function_end(self, info: UserFunctionEndInfo) -> None:
        if _only(OperationType.STEP, info):
            self.emit(hook="attempt-end", op=info.operation_id, outcome=info.outcome.value)


@requirement("10-4")
def h_10_4() -> Any:
    return _handler(_greet, [FaultyPlugin()])


@requirement("10-17")
def h_10_17() -> Any:
    return _handler(_greet, [FaultyPlugin(), HealthyPlugin()])


# ----- 10-8, 10-22: operation-change hook


class ChangeHooks(ConfPlugin):
    """operation-change: one record per step in the delta (`canonical`: the full item dump)."""

    def __init__(self, canonical: bool = False) -> None:
        super().__init__()
        self.canonical = canonical

    def on_invocation_start(self, info: InvocationStartInfo) -> None:
        self.remember(info)

    def on_operation_change(self, info: OperationChangeInfo) -> None:
        for operation_id, item in info.updated_operations.items():
            if not _only(OperationType.STEP, item):
                continue
            in_full_map = operation_id in info.operations
            if not self.canonical:
                self.emit(hook="operation-change", op=operation_id, status=item.status.value, in_full_map=in_full_map)
                continue
            fields: dict[str, Any] = {
                "executionArn": info.execution_arn,
                "updatedOperationsCount": len(info.updated_operations),
                "operationsCount": len(info.operations),
                "inFullMap": in_full_map,
            }
            fields.update(_dump_operation(item))
            self.emit(hook="operation-change", **{k: v for k, v in fields.items() if v is not None})


@requirement("10-8")
def h_10_8() -> Any:
    return _handler(_greet, [ChangeHooks()])


@requirement("10-22")
def h_10_22() -> Any:
    def handler(event: Any, context: DurableContext) -> str:
        return context.step(lambda _: "task-a", name="greet")

    return _handler(handler, [ChangeHooks(canonical=True)])


# ----- 10-9: an operation completed while the execution was suspended


class UpdatedOnInvoke(ConfPlugin):
    """A wait's terminal end, which a wait only reaches outside the handler: completed between invocations."""

    def on_invocation_start(self, info: InvocationStartInfo) -> None:
        self.remember(info)

    def on_operation_end(self, info: OperationEndInfo) -> None:
        if _only(OperationType.WAIT, info):
            self.emit(hook="updated-on-invoke", op=info.operation_id, status=info.status.value, first=self.first)


@requirement("10-9")
def h_10_9() -> Any:
    return _handler(_wait_two_seconds, [UpdatedOnInvoke()])


# ----- 10-11, 10-12: parent linkage


class ParentLinkage(ConfPlugin):
    def on_invocation_start(self, info: InvocationStartInfo) -> None:
        self.remember(info)

    def on_operation_end(self, info: OperationEndInfo) -> None:
        self.emit(hook="operation-end", op=info.operation_id, parent=info.parent_id or "NONE", status=info.status.value)


@requirement("10-11")
def h_10_11() -> Any:
    def handler(event: Any, context: DurableContext) -> str:
        return context.run_in_child_context(lambda child: _greet(event, child))

    return _handler(handler, [ParentLinkage()])


class BranchFunctions(ConfPlugin):
    def on_invocation_start(self, info: InvocationStartInfo) -> None:
        self.remember(info)

    def on_user_function_start(self, info: UserFunctionStartInfo) -> None:
        if info.sub_type is OperationSubType.PARALLEL_BRANCH:
            self.emit(hook="fn-start", op=info.operation_id, parent=info.parent_id or "NONE")

    def on_user_function_end(self, info: UserFunctionEndInfo) -> None:
        if info.sub_type is OperationSubType.PARALLEL_BRANCH:
            self.emit(
                hook="fn-end", op=info.operation_id, parent=info.parent_id or "NONE", outcome=info.outcome.value
            )


@requirement("10-12")
def h_10_12() -> Any:
    def handler(event: Any, context: DurableContext) -> Any:
        branches = [lambda _: "task-1", lambda _: "task-2"]
        return context.parallel(branches, name="parallel", config=ParallelConfig(max_concurrency=1)).get_results()

    return _handler(handler, [BranchFunctions()])


# ----- 10-19 .. 10-21, 10-23: canonical dumps of the info records


class InvocationDump(ConfPlugin):
    def on_invocation_start(self, info: InvocationStartInfo) -> None:
        self.remember(info)
        self.emit(hook="invocation-start", **_dump_invocation(info))

    def on_invocation_end(self, info: InvocationEndInfo) -> None:
        self.emit(hook="invocation-end", **_dump_invocation(info))


@requirement("10-19")
def h_10_19() -> Any:
    def handler(event: Any, context: DurableContext) -> str:
        context.wait(Duration.from_seconds(2))
        return f"done-{event}"

    return _handler(handler, [InvocationDump()])


class OperationDump(ConfPlugin):
    """Canonical dumps of the hooks in `hooks` for operations of `operation_type`."""

    def __init__(self, operation_type: OperationType, hooks: frozenset[str]) -> None:
        super().__init__()
        self.operation_type = operation_type
        self.hooks = hooks

    def on_invocation_start(self, info: InvocationStartInfo) -> None:
        self.remember(info)

    def dump(self, hook: str, info: OperationInfo) -> None:
        if hook in self.hooks and _only(self.operation_type, info):
            self.emit(hook=hook, **_dump_operation(info))

    def on_operation_start(self, info: OperationStartInfo) -> None:
        self.dump("operation-start", info)

    def on_operation_end(self, info: OperationEndInfo) -> None:
        self.dump("operation-end", info)

    def on_user_function_start(self, info: UserFunctionStartInfo) -> None:
        self.dump("attempt-start" if info.operation_type is OperationType.STEP else "fn-start", info)

    def on_user_function_end(self, info: UserFunctionEndInfo) -> None:
        self.dump("attempt-end" if info.operation_type is OperationType.STEP else "fn-end", info)


@requirement("10-20")
def h_10_20() -> Any:
    def handler(event: Any, context: DurableContext) -> str:
        return context.step(lambda _: "task-a", name="greet")

    return _handler(handler, [OperationDump(OperationType.STEP, frozenset({"operation-start", "operation-end"}))])


@requirement("10-21")
def h_10_21() -> Any:
    def flaky(step_context: StepContext) -> str:
        if step_context.attempt < 2:
            raise RuntimeError(f"flaky attempt {step_context.attempt} fails")
        return "ok"

    def handler(event: Any, context: DurableContext) -> str:
        return context.step(flaky, name="flaky", config=StepConfig(retry_strategy=_retries(3)))

    return _handler(handler, [OperationDump(OperationType.STEP, frozenset({"attempt-start", "attempt-end"}))])


@requirement("10-23")
def h_10_23() -> Any:
    def branch_a(context: DurableContext) -> str:
        context.step(lambda _: "x", name="inner")
        context.wait(Duration.from_seconds(2))
        return "a-done"

    def handler(event: Any, context: DurableContext) -> Any:
        branches: list[Any] = [
            ParallelBranch(branch_a, name="branch-a"), ParallelBranch(lambda _: "b-done", name="branch-b")
        ]
        return context.parallel(branches, name="ctx", config=ParallelConfig(max_concurrency=1)).get_results()

    return _handler(handler, [OperationDump(OperationType.CONTEXT, frozenset({"operation-start", "fn-start"}))])
