"""What both OpenTelemetry plugins share: the provider and tracer, per-invocation span books, attributes.

One plugin instance serves every invocation of its handler, concurrently
with others; the spans of one invocation are kept in an `_InvocationSpans`
found through `durable.plugin.current_invocation()`, which the runtime sets
for each hook.  Nothing here takes a lock: the books are dicts changed by
single atomic operations, and deterministic ids travel in contextvars.
"""

from __future__ import annotations

import datetime
import logging
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.trace import TracerProvider as SdkTracerProvider
from opentelemetry.trace import Span, SpanContext, StatusCode

from durable.core.records import InvocationStatus, OperationType
from durable.otel.context_extractors import ContextExtractor, xray_context_extractor
from durable.otel.deterministic_id_generator import DeterministicIdGenerator, execution_trace_id
from durable.otel.instrumentations import register_standalone_instrumentations
from durable.otel.log_filter import install_log_filter, install_loguru_patcher
from durable.otel.otel_plugin_config import OtelPluginConfig
from durable.otel.provider import create_tracer_provider
from durable.plugin import (
    DurableInstrumentationPlugin,
    InvocationStartInfo,
    UserFunctionEndInfo,
    UserFunctionStartInfo,
    current_invocation,
)

logger = logging.getLogger(__name__)

TERMINAL_INVOCATION_STATUSES = frozenset({InvocationStatus.SUCCEEDED, InvocationStatus.FAILED})
#: operations whose user code runs in attempts, each with a span of its own
USER_FUNCTION_TYPES = (OperationType.CONTEXT, OperationType.STEP)


def utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)

Attributes = dict[str, str | bool | int]


def nanoseconds(moment: datetime.datetime | None) -> int | None:
    """An info record's time as OpenTelemetry's nanoseconds since the epoch (None stays None)."""
    return None if moment is None else int(moment.timestamp() * 1_000_000_000)


def end_after_start(info: Any) -> datetime.datetime | None:
    """The info's end time, nudged past its start: a span whose end equals its start is not shown."""
    end: datetime.datetime | None = info.end_time
    if end is not None and end == info.start_time:
        end += datetime.timedelta(microseconds=1)
    return end


def attempt_key(info: UserFunctionStartInfo | UserFunctionEndInfo) -> str:
    return f"{info.operation_id}:attempt:{info.attempt or 1}"


class InvocationSpans:
    """The open spans of one invocation, by key (operation id, or an attempt key), in start order."""

    def __init__(self, info: InvocationStartInfo, parent_context: Context, trace_id: int) -> None:
        self.execution_arn = info.execution_arn or ""
        self.parent_context = parent_context
        self.trace_id = trace_id
        self.workflow: Span | None = None
        self.invocation: Span | None = None
        self.spans: dict[str, Span] = {}

    def get(self, key: str | None) -> Span | None:
        return None if key is None else self.spans.get(key)


class OtelPluginBase(DurableInstrumentationPlugin):
    """Provider, tracer, id generator, log correlation and the per-invocation books."""

    def __init__(self, config: OtelPluginConfig | None = None) -> None:
        self._config = config or OtelPluginConfig()
        self._context_extractor: ContextExtractor = self._config.context_extractor or xray_context_extractor
        self._workflow_span_name = self._config.workflow_span_name
        self._enrich_logger = self._config.enrich_logger
        self._id_generator = DeterministicIdGenerator()
        result = create_tracer_provider(self._config, id_generator=self._id_generator)
        self._provider = result.tracer_provider
        self._provider_source = result.source
        if isinstance(self._provider, SdkTracerProvider):
            self._id_generator = DeterministicIdGenerator.install_on_provider(self._provider)
        else:
            logger.warning(
                "%s got a %s, not an OpenTelemetry SDK TracerProvider: span ids will not be deterministic, so "
                "invocations will not share a trace; configure the SDK or pass tracer_provider",
                type(self).__name__, type(self._provider).__name__,
            )
        self._tracer = self._provider.get_tracer(self._config.instrument_name)
        try:
            register_standalone_instrumentations(self._config, result)
        except Exception as error:
            logger.warning("registering the standalone instrumentations failed", exc_info=error)
        self._invocations: dict[tuple[str | None, str | None], InvocationSpans] = {}
        self._latest: tuple[str | None, str | None] | None = None
        if self._enrich_logger:
            install_log_filter(self)
            install_loguru_patcher(self)

    @property
    def tracer_provider(self) -> trace.TracerProvider:
        return self._provider

    # ----- invocations

    def _begin(self, info: InvocationStartInfo) -> InvocationSpans:
        key = (info.execution_arn, info.request_id)
        parent_context = self._context_extractor(info)
        trace_id = execution_trace_id(info.execution_arn or "", info.execution_start_time)
        book = InvocationSpans(info, parent_context, trace_id)
        self._invocations[key] = book
        self._latest = key
        self._id_generator.use_trace_id(trace_id)
        return book

    def _book(self) -> InvocationSpans:
        """The spans of the invocation whose hook runs; RuntimeError outside any invocation."""
        invocation = current_invocation()
        key = (invocation.execution_arn, invocation.request_id) if invocation is not None else self._latest
        book = self._invocations.get(key) if key is not None else None
        if book is None:
            raise RuntimeError(f"{type(self).__name__}: a hook fired outside any invocation it saw start")
        self._id_generator.use_trace_id(book.trace_id)
        return book

    def _end_invocation(self, book: InvocationSpans) -> None:
        for key, candidate in list(self._invocations.items()):
            if candidate is book:
                self._invocations.pop(key, None)
        flush = getattr(self._provider, "force_flush", None)
        if callable(flush):
            try:
                flush()
            except Exception as error:
                logger.warning("flushing spans at the end of an invocation failed", exc_info=error)

    def get_current_span_context(self) -> SpanContext | None:
        """The span for log correlation: the one attached to the context, else the invocation's (or workflow's)."""
        attached = trace.get_current_span().get_span_context()
        if attached is not None and attached.is_valid:
            return attached
        invocation = current_invocation()
        # outside the runtime's threads (a thread the user started): the latest invocation, as the SDK's has one
        key = (invocation.execution_arn, invocation.request_id) if invocation is not None else self._latest
        book = self._invocations.get(key) if key is not None else None
        if book is None:
            return None
        for span in (book.invocation, book.workflow):
            if span is not None:
                span_context = span.get_span_context()
                if span_context.is_valid:
                    return span_context
        return None

    def _attach(self, book: InvocationSpans, span: Span) -> None:
        """Make `span` current in the calling thread's context (the runtime carries it back from the hook)."""
        otel_context.attach(trace.set_span_in_context(span, book.parent_context))

    # ----- spans

    @staticmethod
    def _mark(span: Span, info: Any) -> None:
        """OK, or ERROR with the info's error recorded."""
        error = getattr(info, "error", None)
        if error is None:
            span.set_status(StatusCode.OK)
            return
        span.set_status(StatusCode.ERROR, error.message or "")
        span.record_exception(Exception(error.message or error.type or "Unknown error"))

    def _attributes(self, book: InvocationSpans, info: Any) -> Attributes:
        """The durable.* attributes of an info record."""
        attributes: Attributes = {"durable.execution.arn": book.execution_arn}
        if isinstance(info, InvocationStartInfo):
            attributes["durable.invocation.first"] = info.is_first_invocation
        operation_type = getattr(info, "operation_type", None)
        if getattr(info, "operation_id", None) is not None:
            attributes["durable.operation.id"] = info.operation_id
        if operation_type is not None:
            attributes["durable.operation.type"] = operation_type.value
        if getattr(info, "sub_type", None) is not None:
            attributes["durable.operation.subtype"] = info.sub_type.value
        is_attempt = isinstance(info, UserFunctionStartInfo | UserFunctionEndInfo) and (
            operation_type is OperationType.STEP
        )
        if not is_attempt and getattr(info, "status", None) is not None:
            attributes["durable.operation.status"] = info.status.value
        if getattr(info, "name", None) is not None:
            attributes["durable.operation.name"] = info.name
        if operation_type is not OperationType.CONTEXT:
            if getattr(info, "attempt", None) is not None:
                attributes["durable.attempt.number"] = info.attempt
            if getattr(info, "outcome", None) is not None:
                attributes["durable.attempt.outcome"] = info.outcome.value
        return attributes
