"""The tracer provider a plugin uses, chosen by OtelPluginConfig.provider_source.

EXPLICIT is the config's provider as given; GLOBAL is OpenTelemetry's global
provider; AUTO_OTLP builds a provider the plugin owns: OTLP/HTTP export
through a batch processor, sampling from $OTEL_DURABLE_SAMPLING_RATIO, a
Lambda resource when $AWS_LAMBDA_FUNCTION_NAME is set, and the X-Ray and W3C
propagators installed globally.  AUTO_OTLP needs
opentelemetry-exporter-otlp-proto-http (not part of durable[otel]).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from opentelemetry import propagate, trace
from opentelemetry.propagators.composite import CompositePropagator

from durable.otel.otel_plugin_config import DEFAULT_OTLP_ENDPOINT, OtelPluginConfig, ProviderSource

if TYPE_CHECKING:
    from opentelemetry.propagators.textmap import TextMapPropagator
    from opentelemetry.sdk.trace import TracerProvider as SdkTracerProvider
    from opentelemetry.sdk.trace.id_generator import IdGenerator
    from opentelemetry.sdk.trace.sampling import Sampler


__all__ = ["OTLP_ENDPOINT_ENV", "SAMPLING_RATIO_ENV", "ProviderResult", "create_tracer_provider"]
logger = logging.getLogger(__name__)

SAMPLING_RATIO_ENV = "OTEL_DURABLE_SAMPLING_RATIO"
OTLP_ENDPOINT_ENV = "OTEL_EXPORTER_OTLP_ENDPOINT"


@dataclass
class ProviderResult:
    """The provider, and which source gave it (the plugin owns and flushes only AUTO_OTLP's)."""

    tracer_provider: trace.TracerProvider
    source: ProviderSource


def traces_endpoint(config: OtelPluginConfig) -> str:
    """The exporter config's endpoint, else $OTEL_EXPORTER_OTLP_ENDPOINT, else the default; ending in /v1/traces."""
    base = (config.exporter_config.endpoint or os.environ.get(OTLP_ENDPOINT_ENV) or DEFAULT_OTLP_ENDPOINT).rstrip("/")
    return base if base.endswith("/v1/traces") else f"{base}/v1/traces"


def sampler_from_env() -> Sampler:
    """TraceIdRatioBased($OTEL_DURABLE_SAMPLING_RATIO) for a ratio in [0, 1]; always-on otherwise."""
    from opentelemetry.sdk.trace.sampling import ALWAYS_ON, TraceIdRatioBased

    raw = os.environ.get(SAMPLING_RATIO_ENV)
    try:
        ratio = float(raw) if raw is not None else None
    except ValueError:
        ratio = None
    if ratio is None or not 0.0 <= ratio <= 1.0:
        return ALWAYS_ON
    return TraceIdRatioBased(ratio)


def lambda_resource() -> Any:
    """Resource attributes of the Lambda function running this, or None outside Lambda."""
    from opentelemetry.sdk.resources import Resource

    function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
    if not function_name:
        return None
    attributes = {
        "service.name": function_name,
        "faas.name": function_name,
        "cloud.provider": "aws",
        "cloud.platform": "aws_lambda",
    }
    for key, env in (("cloud.region", "AWS_REGION"), ("faas.version", "AWS_LAMBDA_FUNCTION_VERSION")):
        if os.environ.get(env):
            attributes[key] = os.environ[env]
    return Resource.create(attributes)


def default_propagators(config: OtelPluginConfig) -> list[TextMapPropagator]:
    """The config's propagators, else X-Ray (when its package is installed) and W3C trace context."""
    if config.propagators is not None:
        return list(config.propagators)
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    chosen: list[TextMapPropagator] = []
    try:
        from opentelemetry.propagators.aws import AwsXRayPropagator

        chosen.append(AwsXRayPropagator())
    except ImportError:
        logger.debug("opentelemetry-propagator-aws-xray is not installed: propagating W3C trace context only")
    chosen.append(TraceContextTextMapPropagator())
    return chosen


def _auto_provider(config: OtelPluginConfig, id_generator: IdGenerator | None) -> SdkTracerProvider:
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
            OTLPSpanExporter,
        )
    except ImportError as error:
        raise ImportError(
            "provider_source=AUTO_OTLP exports over OTLP/HTTP: install opentelemetry-exporter-otlp-proto-http"
        ) from error
    from opentelemetry.sdk.trace import TracerProvider as SdkTracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    options: dict[str, Any] = {"sampler": sampler_from_env()}
    resource = lambda_resource()
    if resource is not None:
        options["resource"] = resource
    if id_generator is not None:
        options["id_generator"] = id_generator
    provider = SdkTracerProvider(**options)
    exporter = OTLPSpanExporter(endpoint=traces_endpoint(config), headers=config.exporter_config.headers or None)
    provider.add_span_processor(BatchSpanProcessor(exporter))
    propagate.set_global_textmap(CompositePropagator(default_propagators(config)))
    return provider


def create_tracer_provider(config: OtelPluginConfig, *, id_generator: IdGenerator | None = None) -> ProviderResult:
    """The provider `config.provider_source` selects; `id_generator` is built into an AUTO_OTLP one."""
    source = config.provider_source
    provider: trace.TracerProvider
    if source is ProviderSource.EXPLICIT:
        if config.tracer_provider is None:
            raise ValueError("provider_source=EXPLICIT needs a tracer_provider")
        provider = config.tracer_provider
    elif source is ProviderSource.GLOBAL:
        provider = trace.get_tracer_provider()
    elif source is ProviderSource.AUTO_OTLP:
        provider = _auto_provider(config, id_generator)
    else:  # pragma: no cover - every ProviderSource is handled above
        raise ValueError(f"unknown provider_source {source!r}")
    return ProviderResult(provider, source)
