"""Instrumentation of AWS SDK (botocore) and HTTP (urllib3) calls, by provider source.

EXPLICIT registers nothing (whoever built the provider instruments what they
want); GLOBAL registers botocore only; AUTO_OTLP registers botocore and, if
enabled, urllib3, whose spans to localhost and to the Lambda runtime API are
marked as suppressed.  Each instrumentation needs its optional package
(opentelemetry-instrumentation-botocore / -urllib3); without it, it is
skipped with a log line.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from durable.otel.otel_plugin_config import OtelPluginConfig, ProviderSource
from durable.otel.provider import ProviderResult

__all__ = ["register_standalone_instrumentations"]
logger = logging.getLogger(__name__)

_LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost"})


def _instrument_botocore(tracer_provider: Any) -> None:
    try:
        from opentelemetry.instrumentation.botocore import BotocoreInstrumentor  # type: ignore[import-not-found]
    except ImportError:
        logger.warning("opentelemetry-instrumentation-botocore is not installed: AWS SDK calls are not traced")
        return
    instrumentor = BotocoreInstrumentor()
    if instrumentor.is_instrumented_by_opentelemetry:
        return
    instrumentor.instrument(**({"tracer_provider": tracer_provider} if tracer_provider is not None else {}))


def _instrument_urllib3(tracer_provider: Any) -> None:
    try:
        from opentelemetry.instrumentation.urllib3 import URLLib3Instrumentor  # type: ignore[import-not-found]
    except ImportError:
        logger.warning("opentelemetry-instrumentation-urllib3 is not installed: HTTP calls are not traced")
        return
    quiet = set(_LOCAL_HOSTS)
    runtime_api = os.environ.get("AWS_LAMBDA_RUNTIME_API")
    if runtime_api:
        quiet.add(runtime_api.split(":", 1)[0])

    def mark_quiet(span: Any, pool: Any, request_info: Any) -> None:
        if getattr(pool, "host", None) in quiet and span is not None and span.is_recording():
            span.set_attribute("durable.instrumentation.suppressed", True)

    instrumentor = URLLib3Instrumentor()
    if instrumentor.is_instrumented_by_opentelemetry:
        return
    options: dict[str, Any] = {"request_hook": mark_quiet}
    if tracer_provider is not None:
        options["tracer_provider"] = tracer_provider
    instrumentor.instrument(**options)


def register_standalone_instrumentations(config: OtelPluginConfig, result: ProviderResult) -> None:
    """Register what `result.source` calls for (see the module docstring)."""
    if result.source is ProviderSource.EXPLICIT:
        return
    if result.source is ProviderSource.GLOBAL:
        _instrument_botocore(None)
        return
    _instrument_botocore(result.tracer_provider)
    if config.enable_http_instrumentation:
        _instrument_urllib3(result.tracer_provider)
