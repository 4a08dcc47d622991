"""ExecutionOtelPlugin: a durable execution as one trace, Workflow -> Invocation -> Operation -> Attempt.

The Workflow span is the trace's root: it has the execution's deterministic
span id, is re-created (not exported) by every invocation, and is ended
(exported) by the invocation that ends the execution.  Each invocation adds
an Invocation span under it (under the ambient span, e.g. Lambda's, with the
GLOBAL provider).  Operations hang from their enclosing child context or the
Workflow span and link to the Invocation that reported them; step attempts
hang from their operation.

Every operation span has its operation's deterministic span id and is
exported once, when the operation ends: an invocation that suspends drops the
spans still open instead of ending them, and a later invocation re-opens the
same span id (or opens it when it only sees the end, as for a wait that
fired while nothing ran).  So replays add no spans, and a span that outlives
an invocation or a process keeps its identity and place in the tree.  An
operation whose enclosing context has no open span in this invocation hangs
from the Workflow span, as in the SDK's plugin.
"""

from __future__ import annotations

import datetime
import logging

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Link, Span, SpanKind, StatusCode

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
from durable.otel.otel_plugin_config import ProviderSource
from durable.plugin import (
    InvocationEndInfo,
    InvocationStartInfo,
    OperationEndInfo,
    OperationInfo,
    OperationStartInfo,
    UserFunctionEndInfo,
    UserFunctionStartInfo,
)

__all__ = ["ExecutionOtelPlugin"]
logger = logging.getLogger(__name__)

class ExecutionOtelPlugin(OtelPluginBase):
    """Spans per execution (see the module docstring)."""

    def _parent(self, book: InvocationSpans, parent_id: str | None) -> Span | None:
        """The enclosing operation's span if it is open in this invocation, else the Workflow span (as the
        SDK's plugin resolves it)."""
        span = None if parent_id is None else book.get(parent_id)
        return book.workflow if span is None else span

    def _start(
        self,
        book: InvocationSpans,
        info: OperationInfo,
        name: str,
        parent: Span | None,
        start_time: datetime.datetime | None,
        *,
        key: str | None = None,
        deterministic: bool = True,
    ) -> Span:
        links: list[Link] = []
        if book.invocation is not None and book.invocation.get_span_context().is_valid:
            links.append(Link(book.invocation.get_span_context()))
        self._id_generator.set_next_span_id(
            operation_id_to_span_id(book.execution_arn, info.operation_id) if deterministic else None
        )
        context = book.parent_context if parent is None else trace.set_span_in_context(parent, book.parent_context)
        span = self._tracer.start_span(
            name,
            context=context,
            kind=SpanKind.INTERNAL,
            attributes=self._attributes(book, info),
            links=links,
            start_time=nanoseconds(start_time),
        )
        book.spans[key if key is not None else info.operation_id] = span
        return span

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
        attributes: Attributes = {
            "durable.execution.arn": book.execution_arn,
            "durable.invocation.first": info.is_first_invocation,
        }
        if self._provider_source is ProviderSource.GLOBAL:
            parent = otel_context.get_current()  # under the ambient (e.g. Lambda) invocation span
        elif book.workflow is not None:
            parent = trace.set_span_in_context(book.workflow, book.parent_context)
        else:
            parent = None
        if parent is not None:
            self._id_generator.set_next_span_id(None)
            book.invocation = self._tracer.start_span(
                "Invocation", context=parent, kind=SpanKind.INTERNAL, attributes=attributes
            )
        # Nothing is attached for the handler's own code: until its first operation's user code ends, log
        # records and spans see no current span, so logs name the Invocation span and spans start new roots
        # in the execution's trace, as with the SDK's plugin (whose start hook runs on another thread).

    def on_invocation_end(self, info: InvocationEndInfo) -> None:
        logger.debug("invocation ended: %s", info)
        book = self._book()
        # Spans still open belong to operations that did not end here; a later invocation ends them.
        book.spans.clear()
        if book.invocation is not None:
            book.invocation.set_attribute("durable.invocation.status", info.status.value)
            if info.status in (InvocationStatus.SUCCEEDED, InvocationStatus.PENDING):
                book.invocation.set_status(StatusCode.OK)
            elif info.status is InvocationStatus.FAILED:
                book.invocation.set_status(StatusCode.ERROR, (info.error.message or "") if info.error else "")
            book.invocation.end()
        if book.workflow is not None and info.status in TERMINAL_INVOCATION_STATUSES:
            book.workflow.set_attribute("durable.execution.status", info.status.value)
            if info.status is InvocationStatus.FAILED:
                book.workflow.set_status(StatusCode.ERROR, (info.error.message or "") if info.error else "")
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
        self._start(book, info, info.name or info.operation_id, self._parent(book, info.parent_id), info.start_time)

    def on_operation_end(self, info: OperationEndInfo) -> None:
        logger.debug("operation ended: %s", info)
        book = self._book()
        span = book.get(info.operation_id)
        if span is None:  # opened by an earlier invocation (or never): this one exports it
            span = self._start(
                book, info, info.name or info.operation_id, self._parent(book, info.parent_id), info.start_time
            )
        else:
            span.set_attributes(self._attributes(book, info))
        self._mark(span, info)
        book.spans.pop(info.operation_id, None)
        span.end(end_time=nanoseconds(end_after_start(info)))

    # ----- user code

    def on_user_function_start(self, info: UserFunctionStartInfo) -> None:
        logger.debug("user function started: %s", info)
        if info.operation_type not in USER_FUNCTION_TYPES:
            raise RuntimeError(f"user code of a {info.operation_type.value} operation was not expected")
        book = self._book()
        name = info.name or info.operation_id
        if info.operation_type is OperationType.STEP:
            parent = book.get(info.operation_id) or self._parent(book, info.parent_id)
            span = self._start(
                book, info, f"{name} attempt {info.attempt or 1}", parent, info.start_time,
                key=attempt_key(info), deterministic=False,
            )
        else:
            span = self._start(book, info, name, self._parent(book, info.parent_id), info.start_time)
        self._attach(book, span)

    def on_user_function_end(self, info: UserFunctionEndInfo) -> None:
        logger.debug("user function ended: %s", info)
        if info.operation_type not in USER_FUNCTION_TYPES:
            raise RuntimeError(f"user code of a {info.operation_type.value} operation was not expected")
        book = self._book()
        key = attempt_key(info) if info.operation_type is OperationType.STEP else info.operation_id
        span = book.get(key)
        if span is None:
            raise RuntimeError(f"user code of {info.operation_id} ended without a start")
        if info.operation_type is OperationType.STEP:  # a context's span stays open until the operation ends
            span.set_attributes(self._attributes(book, info))
            self._mark(span, info)  # the info's error is set exactly when the attempt failed
            book.spans.pop(key, None)
            span.end(end_time=nanoseconds(end_after_start(info)))
        enclosing = book.get(info.parent_id) or book.invocation or book.workflow
        if enclosing is not None:
            self._attach(book, enclosing)

