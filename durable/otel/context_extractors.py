"""Where an invocation's upstream trace context comes from."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING

from opentelemetry import context as otel_context
from opentelemetry import propagate

if TYPE_CHECKING:
    from opentelemetry.context import Context

    from durable.plugin import InvocationStartInfo

__all__ = ["XRAY_TRACE_ENV", "ContextExtractor", "w3c_client_context_extractor", "xray_context_extractor"]

#: the variable Lambda sets to the invocation's X-Ray trace header
XRAY_TRACE_ENV = "_X_AMZN_TRACE_ID"

ContextExtractor = Callable[["InvocationStartInfo"], "Context"]


def xray_context_extractor(info: InvocationStartInfo) -> Context:
    """The context of the X-Ray header in $_X_AMZN_TRACE_ID, read by the global propagator; else the current one."""
    header = os.environ.get(XRAY_TRACE_ENV)
    current = otel_context.get_current()
    if not header:
        return current
    return propagate.extract(carrier={"X-Amzn-Trace-Id": header}, context=current)


def w3c_client_context_extractor(info: InvocationStartInfo) -> Context:
    """A W3C traceparent passed along with the invocation; nothing carries one yet, so the current context."""
    return otel_context.get_current()
