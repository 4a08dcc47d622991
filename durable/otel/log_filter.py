"""Log correlation: the active span's ids on every log record.

Records get `traceId` (32 hex digits), `spanId` (16 hex digits) and
`otelTraceSampled` when a span is active: on stdlib `logging` records as
attributes (through a filter on the root logger's handlers), and on loguru
records (the runtime's and `context.logger`'s) in `record["extra"]`, through
a loguru patcher.  The active span is the one attached to the OpenTelemetry
context (an attempt inside a step, a child context's span inside it), or
else the invocation's span; records logged outside any invocation are left
alone, so the fields are optional.
"""

from __future__ import annotations

import logging
import weakref
from typing import TYPE_CHECKING, Any, Protocol

from loguru import logger as loguru_logger
from opentelemetry.trace import TraceFlags

if TYPE_CHECKING:
    from opentelemetry.trace import SpanContext

__all__ = ["OtelContextLogFilter", "install_log_filter", "install_loguru_patcher", "span_fields"]


class _SpanContextProvider(Protocol):
    def get_current_span_context(self) -> SpanContext | None: ...


def span_fields(provider: _SpanContextProvider) -> dict[str, Any]:
    """The correlation fields for the provider's current span context; {} when there is none."""
    span_context = provider.get_current_span_context()
    if span_context is None or not span_context.is_valid:
        return {}
    return {
        "traceId": format(span_context.trace_id, "032x"),
        "spanId": format(span_context.span_id, "016x"),
        "otelTraceSampled": bool(span_context.trace_flags & TraceFlags.SAMPLED),
    }


class OtelContextLogFilter(logging.Filter):
    """A stdlib logging filter stamping the plugin's current span ids on each record; it drops nothing."""

    def __init__(self, plugin: _SpanContextProvider) -> None:
        super().__init__()
        self._plugin = plugin

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in span_fields(self._plugin).items():
            setattr(record, key, value)
        return True


def install_log_filter(
    plugin: _SpanContextProvider, target_logger: logging.Logger | None = None
) -> OtelContextLogFilter | None:
    """Put one OtelContextLogFilter on each handler of `target_logger` (the root logger), once.

    Handlers that already have one keep theirs (and that one is returned),
    so calling this for every plugin or invocation stacks nothing.  None when
    the logger has no handler.
    """
    target = target_logger if target_logger is not None else logging.getLogger()
    chosen: OtelContextLogFilter | None = None
    for handler in target.handlers:
        installed = next((f for f in handler.filters if isinstance(f, OtelContextLogFilter)), None)
        if installed is not None:
            chosen = chosen or installed
            continue
        chosen = chosen or OtelContextLogFilter(plugin)
        handler.addFilter(chosen)
    return chosen


_loguru_providers: weakref.WeakSet[Any] = weakref.WeakSet()


def _patch_loguru_record(record: Any) -> None:
    for provider in list(_loguru_providers):
        fields = span_fields(provider)
        if fields:
            record["extra"].update(fields)
            return


def install_loguru_patcher(plugin: _SpanContextProvider) -> None:
    """Stamp span ids on loguru records too; a patcher configured before keeps running first."""
    if plugin in _loguru_providers:
        return
    _loguru_providers.add(plugin)
    core = getattr(loguru_logger, "_core", None)
    previous = getattr(core, "patcher", None)
    if getattr(previous, "_durable_otel", False):
        return
    if previous is None:
        patcher = _patch_loguru_record
    else:

        def patcher(record: Any) -> None:
            previous(record)
            _patch_loguru_record(record)

    patcher._durable_otel = True  # type: ignore[attr-defined]
    loguru_logger.configure(patcher=patcher)
