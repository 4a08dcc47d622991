"""Handlers with plugins, importable by name from worker processes (isolation="process").

Their plugins are attached by the decorator, so a worker process that
imports the handler gets them too.  What they see is appended to files named
by environment variables (worker processes inherit the environment), as
JSON lines: `RECORD_ENV` for hook calls, `SPANS_ENV` for finished spans.
"""

from __future__ import annotations

import json
import os
import warnings
from typing import Any

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from durable import DurableContext, StepContext, durable_execution
from durable.config import Duration, JitterStrategy, StepConfig
from durable.otel import ExecutionOtelPlugin, OtelPluginConfig, ProviderSource
from durable.plugin import DurableInstrumentationPlugin
from durable.retries import RetryStrategyConfig, create_retry_strategy

RECORD_ENV = "DURABLE_TEST_PLUGIN_RECORD"
SPANS_ENV = "DURABLE_TEST_SPANS"


def _append(env: str, record: dict[str, Any]) -> None:
    path = os.environ.get(env)
    if path:
        with open(path, "a") as handle:
            handle.write(json.dumps(record, default=str) + "\n")


class FileRecorder(DurableInstrumentationPlugin):
    """Appends one line per hook: the hook, the process, and the operation or invocation fields."""

    def _record(self, hook: str, info: Any, **extra: Any) -> None:
        _append(
            RECORD_ENV,
            {
                "hook": hook,
                "pid": os.getpid(),
                "op": getattr(info, "operation_id", None),
                "replayed": getattr(info, "is_replayed", None),
                **extra,
            },
        )

    def on_invocation_start(self, info: Any) -> None:
        self._record("invocation-start", info, first=info.is_first_invocation, request=info.request_id)

    def on_invocation_end(self, info: Any) -> None:
        self._record("invocation-end", info, status=info.status.value)

    def on_operation_start(self, info: Any) -> None:
        self._record("operation-start", info)

    def on_operation_end(self, info: Any) -> None:
        self._record("operation-end", info, status=info.status.value)

    def on_user_function_start(self, info: Any) -> None:
        self._record("fn-start", info, attempt=info.attempt)

    def on_user_function_end(self, info: Any) -> None:
        self._record("fn-end", info, outcome=info.outcome.value)


class RaisingPlugin(DurableInstrumentationPlugin):
    def on_invocation_start(self, info: Any) -> None:
        raise RuntimeError("a broken plugin")

    def on_operation_start(self, info: Any) -> None:
        raise RuntimeError("a broken plugin")


SPAN_EXPORTER = InMemorySpanExporter()
TRACER_PROVIDER = TracerProvider()
TRACER_PROVIDER.add_span_processor(SimpleSpanProcessor(SPAN_EXPORTER))


class SpanDump(DurableInstrumentationPlugin):
    """After the OTel plugin (it comes later in the list), writes the spans this process finished."""

    def on_invocation_end(self, info: Any) -> None:
        for span in SPAN_EXPORTER.get_finished_spans():
            _append(
                SPANS_ENV,
                {
                    "name": span.name,
                    "trace_id": span.context.trace_id,
                    "span_id": span.context.span_id,
                    "parent_id": span.parent.span_id if span.parent is not None else None,
                    "pid": os.getpid(),
                    "attributes": dict(span.attributes or {}),
                },
            )
        SPAN_EXPORTER.clear()


def _retry_once() -> StepConfig:
    strategy = create_retry_strategy(
        RetryStrategyConfig(
            max_attempts=2,
            initial_delay=Duration.from_seconds(1),
            max_delay=Duration.from_seconds(1),
            jitter_strategy=JitterStrategy.NONE,
        )
    )
    return StepConfig(retry_strategy=strategy)


def _flaky(step_context: StepContext) -> str:
    if step_context.attempt < 2:
        raise RuntimeError("first attempt fails")
    return "flaky-done"


def _body(event: Any, context: DurableContext) -> list[str]:
    first = context.step(lambda _: "first-done", name="first")
    context.wait(Duration.from_seconds(1), name="pause")
    second = context.step(_flaky, name="flaky", config=_retry_once())
    third = context.run_in_child_context(lambda child: child.step(lambda _: "inner-done", name="inner"), name="child")
    return [first, second, third]


with warnings.catch_warnings():
    warnings.simplefilter("ignore", FutureWarning)

    @durable_execution(plugins=[RaisingPlugin(), FileRecorder()])
    def recorded(event: Any, context: DurableContext) -> list[str]:
        """Three invocations (a wait, a retry), recorded by FileRecorder behind a plugin that raises."""
        return _body(event, context)

    @durable_execution(
        plugins=[
            ExecutionOtelPlugin(
                OtelPluginConfig(
                    provider_source=ProviderSource.EXPLICIT, tracer_provider=TRACER_PROVIDER, enrich_logger=False
                )
            ),
            SpanDump(),
        ]
    )
    def traced(event: Any, context: DurableContext) -> list[str]:
        """The same work, traced by ExecutionOtelPlugin; SpanDump writes the spans out."""
        return _body(event, context)
