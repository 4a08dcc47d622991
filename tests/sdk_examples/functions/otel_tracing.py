"""OpenTelemetry tracing with ExecutionOtelPlugin and an explicit, in-memory tracer provider."""

from typing import Any

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from durable.config import Duration
from durable.context import DurableContext
from durable.execution import durable_execution
from durable.otel import (
    ExecutionOtelPlugin,
    OtelPluginConfig,
    ProviderSource,
)

span_exporter = InMemorySpanExporter()
tracer_provider = TracerProvider()
tracer_provider.add_span_processor(SimpleSpanProcessor(span_exporter))

otel_plugin = ExecutionOtelPlugin(
    OtelPluginConfig(
        provider_source=ProviderSource.EXPLICIT,
        tracer_provider=tracer_provider,
        workflow_span_name="OrderWorkflow",
        enrich_logger=False,
    )
)


@durable_execution(plugins=[otel_plugin])
def handler(_event: Any, context: DurableContext) -> str:
    context.step(lambda _: "a", name="traced_step")
    context.wait(Duration.from_seconds(2), name="traced_wait")
    context.run_in_child_context(
        lambda child: child.step(lambda _: "b", name="inner_step"), name="traced_child"
    )
    return "traced"
