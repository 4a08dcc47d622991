"""durable.otel: spans for durable executions, checked with the OpenTelemetry SDK's in-memory exporter."""

from __future__ import annotations

import contextlib
import contextvars
import datetime
import hashlib
import json
import logging
import os
import threading
import warnings
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from loguru import logger
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from durable import DurableContext, StepContext, durable_execution
from durable.config import Duration, JitterStrategy, StepConfig
from durable.core.records import InvocationStatus, OperationStatus, OperationSubType, OperationType
from durable.execution import DurableHandler
from durable.otel import (
    DeterministicIdGenerator,
    ExecutionOtelPlugin,
    InvocationOtelPlugin,
    OtelContextLogFilter,
    OtelPluginConfig,
    ProviderSource,
    create_tracer_provider,
    derive_workflow_span_id,
    install_log_filter,
    operation_id_to_span_id,
    xray_context_extractor,
)
from durable.otel.deterministic_id_generator import execution_trace_id, xray_root_trace_id
from durable.otel.provider import default_propagators
from durable.plugin import DurableInstrumentationPlugin, InvocationEndInfo, InvocationStartInfo, OperationEndInfo
from durable.retries import RetryStrategyConfig, create_retry_strategy
from durable.testing import DurableFunctionTestRunner
from tests import plugin_workflows

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def provider(exporter: InMemorySpanExporter) -> TracerProvider:
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    return tracer_provider


def _config(provider: TracerProvider, enrich_logger: bool = False) -> OtelPluginConfig:
    return OtelPluginConfig(
        provider_source=ProviderSource.EXPLICIT, tracer_provider=provider, enrich_logger=enrich_logger
    )


def _plugged(func: Any, *plugins: DurableInstrumentationPlugin) -> DurableHandler[Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return durable_execution(plugins=list(plugins))(func)


def _retry_once() -> StepConfig:
    return StepConfig(
        retry_strategy=create_retry_strategy(
            RetryStrategyConfig(
                max_attempts=2,
                initial_delay=Duration.from_seconds(1),
                max_delay=Duration.from_seconds(1),
                jitter_strategy=JitterStrategy.NONE,
            )
        )
    )


def _flaky(step_context: StepContext) -> str:
    if step_context.attempt < 2:
        raise RuntimeError("first attempt fails")
    return "flaky-done"


def three_invocations(event: Any, context: DurableContext) -> list[str]:
    first = context.step(lambda _: "first-done", name="first")
    context.wait(Duration.from_seconds(1), name="pause")
    second = context.step(_flaky, name="flaky", config=_retry_once())
    third = context.run_in_child_context(lambda child: child.step(lambda _: "inner-done", name="inner"), name="child")
    return [first, second, third]


def _by_name(spans: list[ReadableSpan]) -> dict[str, list[ReadableSpan]]:
    named: dict[str, list[ReadableSpan]] = {}
    for span in spans:
        named.setdefault(span.name, []).append(span)
    return named


def _parent(span: ReadableSpan) -> int | None:
    return span.parent.span_id if span.parent is not None else None


def _id(span: ReadableSpan) -> int:
    assert span.context is not None
    return span.context.span_id


def _trace(span: ReadableSpan) -> int:
    assert span.context is not None
    return span.context.trace_id


def test_execution_plugin_draws_one_trace_workflow_invocation_operation_attempt(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    plugin = ExecutionOtelPlugin(_config(provider))
    with DurableFunctionTestRunner(_plugged(three_invocations, plugin)) as runner:
        result = runner.run()
    assert result.status.value == "SUCCEEDED"
    arn = result.execution_arn
    spans = list(exporter.get_finished_spans())
    named = _by_name(spans)
    # every span is exported once: replays and suspensions add none
    assert Counter(_id(s) for s in spans).most_common(1)[0][1] == 1
    assert sorted(named) == [
        "Invocation", "Workflow", "child", "first", "first attempt 1", "flaky", "flaky attempt 1",
        "flaky attempt 2", "inner", "inner attempt 1", "pause",
    ]
    assert {len(v) for k, v in named.items() if k != "Invocation"} == {1} and len(named["Invocation"]) == 3
    assert len({_trace(s) for s in spans}) == 1

    workflow = named["Workflow"][0]
    assert _id(workflow) == derive_workflow_span_id(arn) and workflow.parent is None
    assert workflow.status.status_code is StatusCode.OK
    assert workflow.attributes is not None and workflow.attributes["durable.execution.status"] == "SUCCEEDED"
    assert {_parent(s) for s in named["Invocation"]} == {_id(workflow)}
    for name, operation_id in (("first", "1"), ("pause", "2"), ("flaky", "3"), ("child", "4"), ("inner", "4-1")):
        span = named[name][0]
        assert _id(span) == operation_id_to_span_id(arn, operation_id), name
    for name in ("first", "pause", "flaky", "child"):
        assert _parent(named[name][0]) == _id(workflow), name
    assert _parent(named["inner"][0]) == _id(named["child"][0])
    for attempt, operation in (("first attempt 1", "first"), ("flaky attempt 1", "flaky"),
                               ("flaky attempt 2", "flaky"), ("inner attempt 1", "inner")):
        assert _parent(named[attempt][0]) == _id(named[operation][0]), attempt
    assert named["flaky attempt 1"][0].status.status_code is StatusCode.ERROR
    assert named["flaky attempt 2"][0].status.status_code is StatusCode.OK
    # operations link to the invocation that reported them
    invocation_ids = {_id(s) for s in named["Invocation"]}
    assert all(link.context.span_id in invocation_ids for link in named["first"][0].links)
    # the wait's span covers its real duration, though it started and ended in different invocations
    pause = named["pause"][0]
    assert pause.start_time is not None and pause.end_time is not None
    assert pause.end_time - pause.start_time >= 900_000_000
    first_invocation = min(named["Invocation"], key=lambda s: s.start_time or 0)
    assert first_invocation.attributes is not None and first_invocation.attributes["durable.invocation.first"]


def test_ids_are_the_same_whichever_run_derives_them(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    plugin = ExecutionOtelPlugin(_config(provider))
    with DurableFunctionTestRunner(_plugged(three_invocations, plugin)) as runner:
        arn = runner.run_async(input="x")
        result = runner.wait_for_result(arn)
        started = runner.get_history(arn)[0]["EventTimestamp"]
    assert result.status.value == "SUCCEEDED"
    start = datetime.datetime.fromisoformat(started.replace("Z", "+00:00"))
    spans = exporter.get_finished_spans()
    assert {_trace(s) for s in spans} == {execution_trace_id(arn, start)}
    assert f"{_trace(spans[0]):032x}"[8:] == hashlib.blake2b(arn.encode()).hexdigest()[:24]


def test_invocation_plugin_draws_spans_per_invocation_with_continuation_links(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    plugin = InvocationOtelPlugin(_config(provider))
    with DurableFunctionTestRunner(_plugged(three_invocations, plugin)) as runner:
        result = runner.run()
    arn = result.execution_arn
    spans = list(exporter.get_finished_spans())
    named = _by_name(spans)
    assert len({_trace(s) for s in spans}) == 1
    assert Counter(_id(s) for s in spans).most_common(1)[0][1] == 1
    invocations = sorted(named["Invocation"], key=lambda s: s.start_time or 0)
    assert len(invocations) == 3 and all(s.parent is None for s in invocations)
    # the wait: first seen live (deterministic id), then continued by the invocation that saw it end
    pauses = sorted(named["pause"], key=lambda s: s.start_time or 0)
    assert len(pauses) == 2
    assert _id(pauses[0]) == operation_id_to_span_id(arn, "2") and _parent(pauses[0]) == _id(invocations[0])
    assert _id(pauses[1]) != _id(pauses[0]) and _parent(pauses[1]) == _id(invocations[1])
    assert any(link.context.span_id == _id(pauses[0]) for link in pauses[1].links)
    # the retried step re-started in the third invocation is a continuation too
    flaky = sorted(named["flaky"], key=lambda s: s.start_time or 0)
    assert _id(flaky[0]) == operation_id_to_span_id(arn, "3") and _id(flaky[1]) != _id(flaky[0])
    assert _parent(named["flaky attempt 2"][0]) == _id(flaky[1])
    assert _parent(named["inner"][0]) == _id(named["child"][0])
    workflow = named["Workflow"]
    assert len(workflow) == 1 and _id(workflow[0]) == derive_workflow_span_id(arn)


def test_a_raising_plugin_beside_the_otel_plugin_changes_nothing(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    class Broken(DurableInstrumentationPlugin):
        def on_user_function_start(self, info: Any) -> None:
            raise RuntimeError("broken")

        on_operation_start = on_operation_end = on_invocation_start = on_user_function_start

    plugin = ExecutionOtelPlugin(_config(provider))
    with DurableFunctionTestRunner(_plugged(three_invocations, Broken(), plugin, Broken())) as runner:
        result = runner.run()
    assert result.status.value == "SUCCEEDED"
    assert len(exporter.get_finished_spans()) == 13


def test_spans_from_worker_processes_join_the_same_trace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spans_file = tmp_path / "spans.jsonl"
    monkeypatch.setenv(plugin_workflows.SPANS_ENV, str(spans_file))
    with DurableFunctionTestRunner(plugin_workflows.traced, isolation="process", workers=2) as runner:
        result = runner.run()
    assert result.status.value == "SUCCEEDED", result.error
    arn = result.execution_arn
    spans = [json.loads(line) for line in spans_file.read_text().splitlines()]
    assert len({span["trace_id"] for span in spans}) == 1
    assert Counter(span["span_id"] for span in spans).most_common(1)[0][1] == 1
    named = {span["name"]: span for span in spans}
    assert named["Workflow"]["span_id"] == derive_workflow_span_id(arn)
    assert named["pause"]["span_id"] == operation_id_to_span_id(arn, "2")
    assert named["inner"]["parent_id"] == named["child"]["span_id"]
    assert {span["pid"] for span in spans} != {os.getpid()}
    assert sum(1 for span in spans if span["name"] == "Invocation") == 3


def test_log_lines_carry_the_active_span(provider: TracerProvider, exporter: InMemorySpanExporter) -> None:
    stdlib: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            stdlib.append(record)

    root = logging.getLogger()
    handler = Keep()
    root.addHandler(handler)
    level = root.level
    root.setLevel(logging.INFO)  # as a user who wants INFO lines sets it: the runner leaves levels alone
    try:
        plugin = ExecutionOtelPlugin(_config(provider, enrich_logger=True))

        def logs(event: Any, context: DurableContext) -> str:
            def body(step_context: StepContext) -> str:
                step_context.logger.info("inside the step")
                logging.getLogger("user").warning("stdlib inside the step")
                return "ok"

            return context.step(body, name="logged")

        with DurableFunctionTestRunner(_plugged(logs, plugin)) as runner:
            result = runner.run()
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    assert result.status.value == "SUCCEEDED"
    attempt = next(s for s in exporter.get_finished_spans() if s.name == "logged attempt 1")
    ours = [r for r in stdlib if getattr(r, "executionArn", None) == result.execution_arn]
    assert ours and ours[0].spanId == f"{_id(attempt):016x}"  # type: ignore[attr-defined]
    assert ours[0].traceId == f"{_trace(attempt):032x}"  # type: ignore[attr-defined]
    record = next(r for r in stdlib if r.getMessage() == "stdlib inside the step")
    assert record.spanId == f"{_id(attempt):016x}"  # type: ignore[attr-defined]
    assert any(isinstance(f, OtelContextLogFilter) for f in handler.filters)
    assert install_log_filter(plugin, logging.getLogger("no-handlers-here")) is None


@contextlib.contextmanager
def _root_records(plugin: ExecutionOtelPlugin | InvocationOtelPlugin) -> Iterator[list[logging.LogRecord]]:
    """What the root logger passes at INFO during the block, stamped by `plugin` (install_log_filter would
    reuse the filter an earlier test's plugin left on pytest's own handlers)."""
    kept: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            kept.append(record)

    handler = Keep()
    handler.addFilter(OtelContextLogFilter(plugin))
    root = logging.getLogger()
    root.addHandler(handler)
    level = root.level
    root.setLevel(logging.INFO)
    try:
        yield kept
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def test_the_handlers_own_code_sees_no_current_span_until_an_operation_ran(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    """As with the SDK's ExecutionOtelPlugin: before the first operation, a log line names the Invocation span
    and a span the handler starts is a root of the execution's trace; after it, the Invocation is current."""
    plugin = ExecutionOtelPlugin(_config(provider))
    tracer = provider.get_tracer("user")  # after the plugin gave the provider its id generator
    with _root_records(plugin) as kept:

        def top_level(event: Any, context: DurableContext) -> str:
            logging.getLogger("user").info("before any operation")
            with tracer.start_as_current_span("user-before"):
                pass
            context.step(lambda _: "ok", name="first")
            logging.getLogger("user").info("after the first step")
            with tracer.start_as_current_span("user-after"):
                pass
            return "done"

        with DurableFunctionTestRunner(_plugged(top_level, plugin)) as runner:
            result = runner.run()
    assert result.status.value == "SUCCEEDED"
    spans = {s.name: s for s in exporter.get_finished_spans()}
    invocation, workflow = spans["Invocation"], spans["Workflow"]
    before = next(r for r in kept if r.getMessage() == "before any operation")
    after = next(r for r in kept if r.getMessage() == "after the first step")
    assert before.spanId == after.spanId == f"{_id(invocation):016x}"  # type: ignore[attr-defined]
    assert spans["user-before"].parent is None and _trace(spans["user-before"]) == _trace(workflow)
    assert _parent(spans["user-after"]) == _id(invocation)


def test_a_thread_the_user_starts_logs_and_traces_in_the_invocation(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    """A thread of the user's own has none of the runtime's context: its log lines still name the invocation's
    span and its spans land in the execution's trace, as with the SDK's plugins."""
    plugin = InvocationOtelPlugin(_config(provider))
    tracer = provider.get_tracer("user")
    with _root_records(plugin) as kept:

        def threaded(event: Any, context: DurableContext) -> str:
            def body(_: StepContext) -> str:
                def work() -> None:
                    logging.getLogger("user").info("from a thread of mine")
                    with tracer.start_as_current_span("in-my-thread"):
                        pass

                worker = threading.Thread(target=work)
                worker.start()
                worker.join()
                return "ok"

            return context.step(body, name="threads")

        with DurableFunctionTestRunner(_plugged(threaded, plugin)) as runner:
            result = runner.run()
    assert result.status.value == "SUCCEEDED"
    spans = {s.name: s for s in exporter.get_finished_spans()}
    record = next(r for r in kept if r.getMessage() == "from a thread of mine")
    assert record.spanId == f"{_id(spans['Invocation']):016x}"  # type: ignore[attr-defined]
    assert record.traceId == f"{_trace(spans['Invocation']):032x}"  # type: ignore[attr-defined]
    assert _trace(spans["in-my-thread"]) == _trace(spans["Invocation"])


# ----- the pieces


def test_id_derivation() -> None:
    arn = "execution-1"
    assert operation_id_to_span_id(arn, "1") == int(hashlib.blake2b(b"execution-1:1").hexdigest()[:16], 16)
    assert operation_id_to_span_id(arn, "1") != operation_id_to_span_id(arn, "2")
    assert derive_workflow_span_id(arn) == int(
        hashlib.blake2b(b"workflow:execution-1").hexdigest()[:16], 16
    )
    with pytest.raises(ValueError):
        derive_workflow_span_id("")
    assert xray_root_trace_id("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1") == int(
        "5759e988bd862e3fe1be46a994272793", 16
    )
    assert xray_root_trace_id("Parent=1") is None and xray_root_trace_id(None) is None
    start = datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)
    assert f"{execution_trace_id(arn, start):032x}".startswith(f"{int(start.timestamp()):08x}")


def test_xray_header_sets_the_trace(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("_X_AMZN_TRACE_ID", "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1")
    assert execution_trace_id("any", None) == int("5759e988bd862e3fe1be46a994272793", 16)
    xray_context_extractor(None)  # type: ignore[arg-type]  # reads only the environment


def test_the_generator_is_shared_per_provider_and_deterministic_once(provider: TracerProvider) -> None:
    generator = DeterministicIdGenerator.install_on_provider(provider)
    assert DeterministicIdGenerator.install_on_provider(provider) is generator
    generator.set_next_span_id(42)
    assert generator.generate_span_id() == 42 and generator.generate_span_id() != 42
    generator.set_next_span_id(0)  # not a valid span id: a generated one instead, and the 0 is used up
    assert generator.generate_span_id() != 0
    generator.use_trace_id(7)
    assert generator.generate_trace_id() == 7
    generator.use_trace_id(None)
    assert generator.generate_trace_id() != 7


def test_config_and_provider_selection(provider: TracerProvider) -> None:
    with pytest.raises(ValueError, match="provider_source=EXPLICIT requires a tracer_provider"):
        OtelPluginConfig(provider_source=ProviderSource.EXPLICIT)
    with pytest.raises(ValueError, match="only valid with provider_source=EXPLICIT; got provider_source=GLOBAL"):
        OtelPluginConfig(tracer_provider=provider)
    assert create_tracer_provider(_config(provider)).tracer_provider is provider
    assert create_tracer_provider(OtelPluginConfig()).tracer_provider is trace.get_tracer_provider()


def test_auto_otlp_works_with_what_the_otel_extra_installs() -> None:
    """`durable[otel]` brings the OTLP/HTTP exporter and the X-Ray propagator, as the SDK's package does."""
    result = create_tracer_provider(OtelPluginConfig(provider_source=ProviderSource.AUTO_OTLP))
    built = result.tracer_provider
    assert isinstance(built, TracerProvider) and result.source is ProviderSource.AUTO_OTLP
    built.shutdown()
    assert [type(p).__name__ for p in default_propagators(OtelPluginConfig())] == [
        "AwsXRayPropagator", "TraceContextTextMapPropagator",
    ]


def test_a_plugin_without_an_sdk_provider_still_runs_and_says_so_in_logging(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(trace, "get_tracer_provider", lambda: trace.NoOpTracerProvider())
    with caplog.at_level(logging.WARNING):
        plugin = InvocationOtelPlugin(OtelPluginConfig(enrich_logger=False))
    (warned,) = [r for r in caplog.records if "not an OpenTelemetry SDK TracerProvider" in r.getMessage()]
    assert warned.levelno == logging.WARNING and warned.name.startswith("durable.otel")
    assert "NoOpTracerProvider" in warned.getMessage()

    def handler(event: Any, context: DurableContext) -> str:
        return context.step(lambda _: "ok")

    with DurableFunctionTestRunner(_plugged(handler, plugin)) as runner:
        assert runner.run().status.value == "SUCCEEDED"


@pytest.fixture(autouse=True)
def _clean_loguru_patcher() -> Iterator[None]:
    yield
    logger.configure(patcher=lambda record: None)


def test_an_operation_whose_context_has_no_open_span_hangs_from_the_workflow(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    """As the SDK's plugin resolves a parent: the enclosing context's span if open here, else the Workflow.
    The hooks run in a fresh context: this thread may have fired another invocation's hooks last."""
    plugin = ExecutionOtelPlugin(_config(provider))
    arn = "arn:aws:lambda:us-east-1:123456789012:function:f/durable-execution/e/1"
    now = datetime.datetime.now(datetime.UTC)

    def hooks() -> None:
        plugin.on_invocation_start(InvocationStartInfo("r1", arn, False, now))
        plugin.on_operation_end(OperationEndInfo(
            "1-1", OperationType.WAIT, OperationSubType.WAIT, "w", "1", now, False, OperationStatus.SUCCEEDED,
            end_time=now,
        ))
        plugin.on_invocation_end(InvocationEndInfo("r1", arn, False, now, status=InvocationStatus.SUCCEEDED))

    contextvars.Context().run(hooks)
    spans = _by_name(list(exporter.get_finished_spans()))
    assert _parent(spans["w"][0]) == _id(spans["Workflow"][0])
