"""Tests for OpenTelemetry tracing with ExecutionOtelPlugin (explicit in-memory provider)."""

import pytest

from durable.execution import InvocationStatus
from tests.sdk_examples.functions import otel_tracing


@pytest.mark.xfail(strict=True, reason="deliberate difference: the AWS SDK ends the wait's span twice (two 'traced_wait' spans); we end it once")
@pytest.mark.example
@pytest.mark.durable_execution(handler=otel_tracing.handler, lambda_function_name="otel tracing")
def test_otel_spans(durable_runner):
    """One trace: a root workflow span, one Invocation span per invocation, spans per operation and attempt."""
    otel_tracing.span_exporter.clear()
    with durable_runner:
        result = durable_runner.run(input=None, timeout=10)

    assert result.status is InvocationStatus.SUCCEEDED
    spans = otel_tracing.span_exporter.get_finished_spans()
    names = [span.name for span in spans]
    assert sorted(names) == sorted([
        "traced_step attempt 1",
        "traced_step",
        "Invocation",
        "traced_wait",
        "inner_step attempt 1",
        "traced_wait",
        "inner_step",
        "traced_child",
        "Invocation",
        "OrderWorkflow",
    ])
    assert len({span.context.trace_id for span in spans}) == 1
    [workflow] = [span for span in spans if span.name == "OrderWorkflow"]
    assert workflow.parent is None
    assert workflow.attributes["durable.execution.status"] == "SUCCEEDED"
    invocations = [span for span in spans if span.name == "Invocation"]
    assert [span.attributes["durable.invocation.first"] for span in invocations] == [True, False]
    assert [span.attributes["durable.invocation.status"] for span in invocations] == ["PENDING", "SUCCEEDED"]
    [step_span] = [span for span in spans if span.name == "traced_step"]
    assert step_span.attributes["durable.operation.type"] == "STEP"
    assert step_span.attributes["durable.operation.id"] == result.get_step("traced_step").operation_id
    [inner] = [span for span in spans if span.name == "inner_step"]
    [child] = [span for span in spans if span.name == "traced_child"]
    assert inner.parent.span_id == child.context.span_id
