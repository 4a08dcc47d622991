"""Handlers for the invoke suite (5-x), and the target functions they invoke (`TARGETS`)."""

from __future__ import annotations

import json
from typing import Any

from durable import DurableContext, durable_execution
from durable.config import Duration, InvokeConfig
from durable.exceptions import InvokeError
from durable.serdes import SerDes, SerDesContext

from . import handler_registry

HANDLERS, requirement = handler_registry()


@durable_execution
def echo(event: Any, context: DurableContext) -> Any:
    return event


@durable_execution
def failing(event: Any, context: DurableContext) -> Any:
    raise RuntimeError("the target function failed")


def measure(event: Any, context: Any) -> dict[str, int]:
    """A plain (not durable) target: it runs once and reports how much it received."""
    return {"length": len(event)}


#: Registered with the runner for every invoke requirement.
TARGETS: dict[str, Any] = {"echo": echo, "echo-again": echo, "failing": failing, "measure": measure}


def _invoke_and_return(payload: Any = None, **kwargs: Any) -> Any:
    @durable_execution
    def handler(event: Any, context: DurableContext) -> Any:
        return context.invoke("echo", event if payload is None else payload, **kwargs)

    return handler


class _UpperPayloadSerDes(SerDes):
    """Upper-cases the outgoing payload's JSON."""

    def serialize(self, value: Any, serdes_context: SerDesContext) -> str:
        return json.dumps(value).upper()

    def deserialize(self, data: str, serdes_context: SerDesContext) -> Any:
        return json.loads(data)


class _UpperResultSerDes(SerDes):
    """Upper-cases the raw result payload it reads (quotes and all: 5-16 expects '"HELLO"')."""

    def serialize(self, value: Any, serdes_context: SerDesContext) -> str:
        return json.dumps(value)

    def deserialize(self, data: str, serdes_context: SerDesContext) -> Any:
        return data.upper()


@requirement("5-1")
def basic() -> Any:
    return _invoke_and_return()


@requirement("5-2")
def named() -> Any:
    @durable_execution
    def handler(event: dict[str, Any], context: DurableContext) -> Any:
        return context.invoke("echo", event["payload"], name=event["name"])

    return handler


@requirement("5-3")
def complex_object() -> Any:
    return _invoke_and_return()


@requirement("5-4")
def null_result() -> Any:
    @durable_execution
    def handler(event: Any, context: DurableContext) -> Any:
        return context.invoke("echo", None)

    return handler


@requirement("5-5")
def target_fails() -> Any:
    @durable_execution
    def handler(event: Any, context: DurableContext) -> Any:
        return context.invoke("failing", event)

    return handler


def _failure_caught(then_wait: bool) -> Any:
    @durable_execution
    def handler(event: Any, context: DurableContext) -> Any:
        try:
            result: Any = context.invoke("failing", event)
        except InvokeError as error:
            result = f"fallback after: {error.message}"
        if then_wait:
            context.wait(Duration.from_seconds(1))
        return result

    return handler


@requirement("5-6")
def target_fails_caught() -> Any:
    return _failure_caught(then_wait=False)


@requirement("5-7")
def large_payload() -> Any:
    @durable_execution
    def handler(event: Any, context: DurableContext) -> Any:
        return context.invoke("measure", "x" * (240 * 1024))

    return handler


@requirement("5-8")
def tenant() -> Any:
    @durable_execution
    def handler(event: dict[str, Any], context: DurableContext) -> Any:
        return context.invoke("echo", event["payload"], config=InvokeConfig(tenant_id=event["tenantId"]))

    return handler


@requirement("5-9")
def replay_returns_recorded_result() -> Any:
    @durable_execution
    def handler(event: Any, context: DurableContext) -> Any:
        result: Any = context.invoke("echo", {"value": 42})
        context.wait(Duration.from_seconds(1))
        return result

    return handler


@requirement("5-10")
def replay_rethrows_recorded_error() -> Any:
    return _failure_caught(then_wait=True)


@requirement("5-11")
def step_then_invoke() -> Any:
    @durable_execution
    def handler(event: Any, context: DurableContext) -> Any:
        prepared = context.step(lambda _: {"prepared": 1})
        return context.invoke("echo", prepared)

    return handler


@requirement("5-12")
def invoke_then_step() -> Any:
    @durable_execution
    def handler(event: Any, context: DurableContext) -> Any:
        result: Any = context.invoke("echo", {"value": 7})
        return context.step(lambda _: {"processed": result})

    return handler


@requirement("5-13")
def inside_child_context() -> Any:
    @durable_execution
    def handler(event: Any, context: DurableContext) -> Any:
        return context.run_in_child_context(lambda child: child.invoke("echo", {"from": "child"}))

    return handler


@requirement("5-14")
def two_in_sequence() -> Any:
    @durable_execution
    def handler(event: Any, context: DurableContext) -> Any:
        first: Any = context.invoke("echo", "one")
        second: Any = context.invoke("echo-again", "two")
        return [first, second]

    return handler


@requirement("5-15")
def payload_serdes() -> Any:
    return _invoke_and_return(config=InvokeConfig(serdes_payload=_UpperPayloadSerDes()))


@requirement("5-16")
def result_serdes() -> Any:
    return _invoke_and_return(config=InvokeConfig(serdes_result=_UpperResultSerDes()))
