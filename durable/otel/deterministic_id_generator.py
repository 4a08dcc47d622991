"""Span and trace ids that every invocation of an execution derives alike.

* trace id: the Root of the X-Ray header in $_X_AMZN_TRACE_ID when there is
  one; otherwise 8 hex digits of the execution's start (Unix seconds, as
  X-Ray ids begin) followed by 24 hex digits of blake2b(execution arn).  The
  start is the execution's, not the invocation's, so every invocation, in
  any process, lands in one trace.
* an operation's span id: the first 16 hex digits of
  blake2b("<execution arn>:<operation id>").
* the execution's root (Workflow) span id: the first 16 hex digits of
  blake2b("workflow:<execution arn>"), never 0.

The generator hands out a deterministic span id only for the next span
started after `set_next_span_id`, and the trace id set by `set_trace_id`.
Both are held in contextvars, not on the generator: one provider (and so one
generator) serves concurrent invocations of different executions, and each
plugin hook runs in its own copy of the calling thread's context.  A thread
the user starts has a context of its own, where no trace id was ever set: its
root spans get the trace id set last anywhere, so that with one execution at
a time they join its trace, as with the SDK's generator.
"""

from __future__ import annotations

import contextvars
import datetime
import hashlib
import os
import re
from typing import TYPE_CHECKING

from opentelemetry.sdk.trace.id_generator import IdGenerator, RandomIdGenerator

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

__all__ = ["DeterministicIdGenerator", "derive_workflow_span_id", "operation_id_to_span_id"]

HASHED_ID_PATTERN = re.compile(r"^[0-9a-f]{16}$")
_XRAY_ROOT = re.compile(r"Root=1-([0-9a-fA-F]{8})-([0-9a-fA-F]{24})")

_next_span_id: contextvars.ContextVar[int | None] = contextvars.ContextVar("durable_otel_next_span_id", default=None)
#: no default: unset in a thread the user started (see the module docstring)
_trace_id: contextvars.ContextVar[int | None] = contextvars.ContextVar("durable_otel_trace_id")


def _hex_digest(text: str, digits: int) -> str:
    return hashlib.blake2b(text.encode()).hexdigest()[:digits]


def xray_root_trace_id(header: str | None) -> int | None:
    """The trace id (128 bits) of an X-Ray header's Root, or None."""
    match = _XRAY_ROOT.search(header or "")
    if match is None:
        return None
    return int(match.group(1) + match.group(2), 16)


def execution_trace_id(execution_arn: str, start: datetime.datetime | None) -> int:
    """The trace id of an execution (see the module docstring)."""
    from_header = xray_root_trace_id(os.environ.get("_X_AMZN_TRACE_ID"))
    if from_header is not None:
        return from_header
    seconds = int((start or datetime.datetime.now(datetime.UTC)).timestamp())
    return int(f"{seconds & 0xFFFFFFFF:08x}{_hex_digest(execution_arn, 24)}", 16)


def operation_id_to_span_id(durable_execution_arn: str, operation_id: str) -> int:
    """The span id (64 bits) of operation `operation_id` of an execution."""
    return int(_hex_digest(f"{durable_execution_arn}:{operation_id}", 16), 16) or 1


def derive_workflow_span_id(durable_execution_arn: str) -> int:
    """The span id (64 bits) of an execution's root span; ValueError for an empty arn."""
    if not durable_execution_arn:
        raise ValueError("a workflow span id needs the execution arn")
    return int(_hex_digest(f"workflow:{durable_execution_arn}", 16), 16) or 1


class DeterministicIdGenerator(RandomIdGenerator):
    """An IdGenerator giving the ids above when asked to, and the fallback generator's otherwise."""

    def __init__(self, fallback_id_generator: IdGenerator | None = None) -> None:
        self._fallback_id_generator: IdGenerator = fallback_id_generator or RandomIdGenerator()
        self._latest_trace_id: int | None = None

    @classmethod
    def install_on_provider(cls, provider: TracerProvider) -> DeterministicIdGenerator:
        """The provider's DeterministicIdGenerator, installed first (wrapping its generator) if it has none.

        Tracers keep the generator of their provider, so plugins sharing a
        provider must share its generator.
        """
        current = provider.id_generator
        if isinstance(current, cls):
            return current
        generator = cls(fallback_id_generator=current)
        provider.id_generator = generator
        return generator

    def set_next_span_id(self, span_id: int | None) -> None:
        """The id of the next span started in this context; None for a generated one."""
        _next_span_id.set(span_id)

    def set_trace_id(self, execution_arn: str, start_timestamp: datetime.datetime | None) -> None:
        """Root spans started in this context get the trace id of this execution."""
        self.use_trace_id(execution_trace_id(execution_arn, start_timestamp))

    def use_trace_id(self, trace_id: int | None) -> None:
        """Root spans started in this context get `trace_id` (None: generated ones)."""
        _trace_id.set(trace_id)
        if trace_id is not None:
            self._latest_trace_id = trace_id

    @property
    def trace_id(self) -> int | None:
        try:
            return _trace_id.get()
        except LookupError:
            return self._latest_trace_id

    def generate_trace_id(self) -> int:
        return self.trace_id or self._fallback_id_generator.generate_trace_id()

    def generate_span_id(self) -> int:
        span_id = _next_span_id.get()
        _next_span_id.set(None)  # it names one span only
        return span_id or self._fallback_id_generator.generate_span_id()  # 0 is no valid span id
