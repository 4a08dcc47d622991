"""A DurableInstrumentationPlugin subclass that records the hooks it sees."""

import threading
from typing import Any

from durable.config import Duration
from durable.context import DurableContext
from durable.execution import durable_execution
from durable.plugin import (
    DurableInstrumentationPlugin,
    InvocationEndInfo,
    InvocationStartInfo,
    OperationEndInfo,
    OperationStartInfo,
    UserFunctionEndInfo,
    UserFunctionStartInfo,
)


class RecordingPlugin(DurableInstrumentationPlugin):
    def __init__(self) -> None:
        self.events: list[tuple] = []
        self._lock = threading.Lock()

    def _record(self, *event: Any) -> None:
        with self._lock:
            self.events.append(event)

    def reset(self) -> None:
        with self._lock:
            self.events.clear()

    def on_invocation_start(self, info: InvocationStartInfo) -> None:
        self._record("invocation_start", info.is_first_invocation)

    def on_invocation_end(self, info: InvocationEndInfo) -> None:
        self._record("invocation_end", info.status.value)

    def on_operation_start(self, info: OperationStartInfo) -> None:
        self._record("operation_start", info.name, info.operation_type.value)

    def on_operation_end(self, info: OperationEndInfo) -> None:
        self._record("operation_end", info.name, info.status.value)

    def on_user_function_start(self, info: UserFunctionStartInfo) -> None:
        self._record("user_function_start", info.name, info.attempt)

    def on_user_function_end(self, info: UserFunctionEndInfo) -> None:
        self._record("user_function_end", info.name, info.outcome.value)


recorder = RecordingPlugin()


@durable_execution(plugins=[recorder])
def handler(_event: Any, context: DurableContext) -> str:
    context.step(lambda _: "charged", name="charge")
    context.wait(Duration.from_seconds(3), name="settle")
    context.step(lambda _: "shipped", name="ship")
    return "complete"
