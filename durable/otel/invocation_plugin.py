"""InvocationOtelPlugin: one trace per execution, seen invocation by invocation.

Each invocation gets an "Invocation" span (a child of the upstream context,
e.g. Lambda's X-Ray trace); operations started in it get spans under it (or
under their enclosing child context's span), and every step attempt a span
under its operation.  The first span of an operation takes the operation's
deterministic span id; when a later invocation sees the operation again (a
retry, a wait that fired, a context resumed) it gets a continuation span
with a fresh id and a link to the deterministic one.  Spans still open when
an invocation ends are ended with it.  Operation and attempt spans also link
to the execution's Workflow span, which is exported once, by the invocation
that ends the execution.
"""

from __future__ import annotations

import datetime
import logging

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Link, Span, SpanContext, SpanKind, StatusCode, TraceFlags

from durable.core.records import InvocationStatus, OperationType
from durable.otel._base import (
    TERMINAL_INVOCATION_STATUSES,
    USER_FUNCTION_TYPES,
    Attributes,
    InvocationSpans,
    OtelPluginBase,
    attempt_key,
    end_after_start,
    nanoseconds,
    utc_now,
)
from durable.otel.deterministic_id_generator import derive_workflow_span_id, operation_id_to_span_id
from durable.plugin import (
    InvocationEndInfo,
    InvocationStartInfo,
    OperationEndInfo,
    OperationStartInfo,
    UserFunctionEndInfo,
    UserFunctionStartInfo,
)

__all__ = ["InvocationOtelPlugin"]
logger = logging.getLogger(__name__)

class InvocationOtelPlugin(OtelPluginBase):
    """Spans per invocation: Invocation -> operation -> attempt (see the module docstring)."""

    DEFAULT_INSTRUMENT_NAME = "aws-durable-execution-sdk-python"

    def _parent(self, book: InvocationSpans, parent_id: str | None) -> Span:
        """The span an operation under `parent_id` hangs from: that context's, or the invocation's at the top."""
        span = book.invocation if parent_id is None else book.get(parent_id)
        if span is None:
            raise ValueError(f"no open span for the enclosing operation {parent_id!r}")
        return span

    def _start(
        self,
        book: InvocationSpans,
        operation_id: str,
        name: str,
        attributes: Attributes,
        parent: Span,
        *,
        start_time: datetime.datetime | None = None,
        continued: bool = False,
        key: str | None = None,
        deterministic: bool = True,
    ) -> Span:
        """Open and book a span; `continued` gives it a fresh id linked to the operation's deterministic one."""
        links: list[Link] = []
        span_id = operation_id_to_span_id(book.execution_arn, operation_id)
        if not deterministic or continued:
            self._id_generator.set_next_span_id(None)
            if deterministic:
                flags = TraceFlags(TraceFlags.SAMPLED)
                links.append(Link(SpanContext(book.trace_id, span_id, is_remote=False, trace_flags=flags)))
        else:
            self._id_generator.set_next_span_id(span_id)
        if book.workflow is not None and book.workflow.get_span_context().is_valid:
            links.append(Link(book.workflow.get_span_context()))
        span = self._tracer.start_span(
            name,
            context=trace.set_span_in_context(parent, book.parent_context),
            kind=SpanKind.INTERNAL,
            attributes=attributes,
            links=links,
            start_time=nanoseconds(start_time or utc_now()),
        )
        book.spans[key if key is not None else operation_id] = span
        return span

    def _end(self, book: InvocationSpans, key: str, end_time: datetime.datetime | None = None) -> None:
        span = book.spans.pop(key, None)
        if span is not None:
            span.end(end_time=nanoseconds(end_time))

    # ----- invocations

    def on_invocation_start(self, info: InvocationStartInfo) -> None:
        logger.debug("invocation started: %s", info)
        book = self._begin(info)
        if book.execution_arn:
            self._id_generator.set_next_span_id(derive_workflow_span_id(book.execution_arn))
            book.workflow = self._tracer.start_span(
                self._workflow_span_name,
                context=Context(),
                kind=SpanKind.INTERNAL,
                attributes={"durable.execution.arn": book.execution_arn},
                start_time=nanoseconds(info.execution_start_time or utc_now()),
            )
        else:
            logger.warning("an invocation without an execution arn gets no Workflow span")
        self._id_generator.set_next_span_id(None)
        book.invocation = self._tracer.start_span(
            "Invocation",
            context=book.parent_context,
            kind=SpanKind.INTERNAL,
            attributes=self._attributes(book, info),
        )

    def on_invocation_end(self, info: InvocationEndInfo) -> None:
        logger.debug("invocation ended: %s", info)
        book = self._book()
        for key in reversed(list(book.spans)):  # children first, so each ends inside its parent
            self._end(book, key)
        if book.invocation is not None:
            book.invocation.set_attribute("durable.invocation.status", info.status.value)
            if info.status in (InvocationStatus.SUCCEEDED, InvocationStatus.PENDING):
                book.invocation.set_status(StatusCode.OK)
            elif info.status is InvocationStatus.FAILED:
                book.invocation.set_status(StatusCode.ERROR, info.error.message or "" if info.error else "")
            book.invocation.end()
        if book.workflow is not None and info.status in TERMINAL_INVOCATION_STATUSES:
            book.workflow.set_attribute("durable.execution.status", info.status.value)
            if info.status is InvocationStatus.FAILED:
                book.workflow.set_status(StatusCode.ERROR, info.error.message or "" if info.error else "")
            else:
                book.workflow.set_status(StatusCode.OK)
            book.workflow.end()
        self._end_invocation(book)

    # ----- operations

    def on_operation_start(self, info: OperationStartInfo) -> None:
        logger.debug("operation started: %s", info)
        if info.operation_type is OperationType.CONTEXT:
            return  # a context's span is its body's, opened by on_user_function_start
        book = self._book()
        self._start(
            book, info.operation_id, info.name or info.operation_id, self._attributes(book, info),
            self._parent(book, info.parent_id), continued=info.is_replayed,
        )

    def on_operation_end(self, info: OperationEndInfo) -> None:
        logger.debug("operation ended: %s", info)
        book = self._book()
        span = book.get(info.operation_id)
        if span is None:  # started by an earlier invocation: a continuation span closes it
            span = self._start(
                book, info.operation_id, info.name or info.operation_id, self._attributes(book, info),
                self._parent(book, info.parent_id), continued=True,
            )
        else:
            span.set_attributes(self._attributes(book, info))
        self._mark(span, info)
        self._end(book, info.operation_id)

    # ----- user code

    def on_user_function_start(self, info: UserFunctionStartInfo) -> None:
        logger.debug("user function started: %s", info)
        if info.operation_type not in USER_FUNCTION_TYPES:
            raise RuntimeError(f"user code of a {info.operation_type.value} operation was not expected")
        book = self._book()
        is_step = info.operation_type is OperationType.STEP
        name = info.name or info.operation_id
        if is_step:
            parent = book.get(info.operation_id) or self._parent(book, info.parent_id)
            span = self._start(
                book, info.operation_id, f"{name} attempt {info.attempt or 1}", self._attributes(book, info), parent,
                start_time=info.start_time, key=attempt_key(info), deterministic=False,
            )
        else:
            span = self._start(
                book, info.operation_id, name, self._attributes(book, info), self._parent(book, info.parent_id),
                start_time=info.start_time, continued=info.attempt != 1,
            )
        self._attach(book, span)

    def on_user_function_end(self, info: UserFunctionEndInfo) -> None:
        logger.debug("user function ended: %s", info)
        if info.operation_type not in USER_FUNCTION_TYPES:
            raise RuntimeError(f"user code of a {info.operation_type.value} operation was not expected")
        book = self._book()
        is_step = info.operation_type is OperationType.STEP
        key = attempt_key(info) if is_step else info.operation_id
        span = book.get(key)
        if span is None:
            raise RuntimeError(f"user code of {info.operation_id} ended without a start")
        if is_step:  # a context's span stays open until the operation ends
            span.set_attributes(self._attributes(book, info))
            self._mark(span, info)  # the info's error is set exactly when the attempt failed
            self._end(book, key, end_after_start(info))
        enclosing = book.get(info.parent_id) or book.invocation
        if enclosing is not None:
            self._attach(book, enclosing)

