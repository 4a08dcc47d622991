"""The one configuration both OpenTelemetry plugins take."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from opentelemetry.propagators.textmap import TextMapPropagator
    from opentelemetry.sdk.trace import TracerProvider as SdkTracerProvider

    from durable.otel.context_extractors import ContextExtractor

__all__ = [
    "DEFAULT_INSTRUMENT_NAME",
    "DEFAULT_OTLP_ENDPOINT",
    "DEFAULT_WORKFLOW_SPAN_NAME",
    "ExporterConfig",
    "OtelPluginConfig",
    "ProviderSource",
]

DEFAULT_INSTRUMENT_NAME = "aws-durable-execution-sdk-python"
DEFAULT_WORKFLOW_SPAN_NAME = "Workflow"
#: the base URL only: the OTLP exporter path (/v1/traces) is added when the provider is built
DEFAULT_OTLP_ENDPOINT = "http://localhost:4318"


class ProviderSource(enum.Enum):
    """Where a plugin's tracer provider comes from."""

    EXPLICIT = "explicit"  # OtelPluginConfig.tracer_provider, used as given
    GLOBAL = "global"  # opentelemetry.trace.get_tracer_provider() (the default)
    AUTO_OTLP = "auto_otlp"  # a provider the plugin builds, exporting over OTLP/HTTP, and owns


@dataclass
class ExporterConfig:
    """Where the AUTO_OTLP provider exports: endpoint (else $OTEL_EXPORTER_OTLP_ENDPOINT) and headers."""

    endpoint: str | None = None
    headers: dict[str, str] | None = None


@dataclass
class OtelPluginConfig:
    """Configuration of ExecutionOtelPlugin and InvocationOtelPlugin (fields one plugin does not use are ignored).

    * provider_source: see ProviderSource; EXPLICIT needs `tracer_provider`,
      the others must not be given one.
    * context_extractor: the upstream trace context of an invocation
      (default: the X-Ray header in $_X_AMZN_TRACE_ID, when set).
    * instrument_name: the instrumentation scope of the tracer.
    * enable_http_instrumentation: with AUTO_OTLP, also instrument urllib3
      (when opentelemetry-instrumentation-urllib3 is installed).
    * exporter_config, propagators: for the AUTO_OTLP provider.
    * workflow_span_name: the name of the execution-wide root span.
    * enrich_logger: stamp trace and span ids on log records (stdlib
      logging's root handlers, and loguru).
    """

    provider_source: ProviderSource = ProviderSource.GLOBAL
    tracer_provider: SdkTracerProvider | None = None
    context_extractor: ContextExtractor | None = None
    instrument_name: str = DEFAULT_INSTRUMENT_NAME
    enable_http_instrumentation: bool = True
    exporter_config: ExporterConfig = field(default_factory=ExporterConfig)
    propagators: Sequence[TextMapPropagator] | None = None
    workflow_span_name: str = DEFAULT_WORKFLOW_SPAN_NAME
    enrich_logger: bool = True

    def __post_init__(self) -> None:
        explicit = self.provider_source is ProviderSource.EXPLICIT
        if explicit and self.tracer_provider is None:
            raise ValueError("provider_source=EXPLICIT requires a tracer_provider.")
        if not explicit and self.tracer_provider is not None:
            raise ValueError(
                "tracer_provider is only valid with provider_source=EXPLICIT; "
                f"got provider_source={self.provider_source.name}. Set ProviderSource.EXPLICIT, "
                "or drop tracer_provider for GLOBAL / AUTO_OTLP."
            )
