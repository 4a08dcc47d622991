"""OpenTelemetry tracing for durable executions (`pip install durable[otel]`).

The AWS SDK's `aws_durable_execution_sdk_python_otel`, for this runtime.  Add
a plugin to a handler and its executions are traced with ids every
invocation (and every worker process) derives alike, so one execution is one
trace however many invocations it takes:

    from durable import durable_execution
    from durable.otel import ExecutionOtelPlugin, OtelPluginConfig, ProviderSource

    plugin = ExecutionOtelPlugin(OtelPluginConfig(provider_source=ProviderSource.EXPLICIT, tracer_provider=provider))

    @durable_execution(plugins=[plugin])
    def handler(event, context): ...

`ExecutionOtelPlugin` draws Workflow -> Invocation -> Operation -> Attempt
and exports each operation's span once, when it ends;
`InvocationOtelPlugin` draws each invocation's own spans and links the
continuations of an operation across invocations.
"""

try:
    import opentelemetry.sdk.trace  # noqa: F401
except ImportError as error:  # pragma: no cover - depends on what is installed
    raise ImportError("durable.otel needs OpenTelemetry: pip install 'durable[otel]'") from error

from durable.otel.__about__ import __version__
from durable.otel.context_extractors import ContextExtractor, w3c_client_context_extractor, xray_context_extractor
from durable.otel.deterministic_id_generator import (
    DeterministicIdGenerator,
    derive_workflow_span_id,
    operation_id_to_span_id,
)
from durable.otel.execution_plugin import ExecutionOtelPlugin
from durable.otel.instrumentations import register_standalone_instrumentations
from durable.otel.invocation_plugin import InvocationOtelPlugin
from durable.otel.log_filter import OtelContextLogFilter, install_log_filter
from durable.otel.otel_plugin_config import ExporterConfig, OtelPluginConfig, ProviderSource
from durable.otel.provider import ProviderResult, create_tracer_provider

__all__ = [
    "ContextExtractor",
    "DeterministicIdGenerator",
    "ExecutionOtelPlugin",
    "ExporterConfig",
    "InvocationOtelPlugin",
    "OtelContextLogFilter",
    "OtelPluginConfig",
    "ProviderResult",
    "ProviderSource",
    "__version__",
    "create_tracer_provider",
    "derive_workflow_span_id",
    "install_log_filter",
    "operation_id_to_span_id",
    "register_standalone_instrumentations",
    "w3c_client_context_extractor",
    "xray_context_extractor",
]
