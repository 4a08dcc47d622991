"""Handlers for the callback suite (4-x): create_callback, its result, timeouts, heartbeats, custom serdes.

The outside system's actions come from each requirement's CallbackActions,
played by the harness; these handlers only create callbacks and wait.
"""

from __future__ import annotations

import datetime
import json
from typing import Any

from durable import DurableContext, durable_execution
from durable.config import CallbackConfig, Duration
from durable.exceptions import CallbackError
from durable.serdes import SerDes, SerDesContext

from . import handler_registry

HANDLERS, requirement = handler_registry()


def _seconds(n: int) -> Duration:
    return Duration.from_seconds(n)


def _await_named(config: CallbackConfig | None = None) -> Any:
    @durable_execution
    def handler(event: str, context: DurableContext) -> Any:
        return context.create_callback(name=event, config=config).result()

    return handler


@requirement("4-1")
def basic() -> Any:
    return _await_named()


@requirement("4-2")
def explicit_name() -> Any:
    @durable_execution
    def handler(event: Any, context: DurableContext) -> Any:
        return context.create_callback(name="approval").result()

    return handler


@requirement("4-3")
def general_timeout() -> Any:
    return _await_named(CallbackConfig(timeout=_seconds(5)))


@requirement("4-4")
def heartbeat_timeout() -> Any:
    return _await_named(CallbackConfig(heartbeat_timeout=_seconds(5)))


@requirement("4-5")
def heartbeat_then_success() -> Any:
    return _await_named(CallbackConfig(heartbeat_timeout=_seconds(10)))


@requirement("4-6")
def external_failure() -> Any:
    return _await_named()


def _callback_step_result(config: CallbackConfig | None = None) -> Any:
    @durable_execution
    def handler(event: str, context: DurableContext) -> Any:
        callback = context.create_callback(name=event, config=config)
        context.step(lambda _: "side work", name="work")
        return callback.result()

    return handler


@requirement("4-7")
def step_then_failure() -> Any:
    return _callback_step_result()


@requirement("4-8")
def step_then_timeout() -> Any:
    return _callback_step_result(CallbackConfig(timeout=_seconds(5)))


def _callback_wait_result(wait_seconds: int, config: CallbackConfig | None = None) -> Any:
    @durable_execution
    def handler(event: str, context: DurableContext) -> Any:
        callback = context.create_callback(name=event, config=config)
        context.wait(_seconds(wait_seconds))
        return callback.result()

    return handler


@requirement("4-9")
def resolves_during_wait() -> Any:
    return _callback_wait_result(5)


@requirement("4-10")
def fails_during_wait() -> Any:
    return _callback_wait_result(5)


@requirement("4-11")
def times_out_during_wait() -> Any:
    return _callback_wait_result(6, CallbackConfig(timeout=_seconds(3)))


@requirement("4-12")
def result_then_wait() -> Any:
    @durable_execution
    def handler(event: str, context: DurableContext) -> Any:
        value = context.create_callback(name=event).result()
        context.wait(_seconds(2))
        return value

    return handler


def _caught_then_wait(config: CallbackConfig | None = None) -> Any:
    @durable_execution
    def handler(event: str, context: DurableContext) -> Any:
        try:
            message = context.create_callback(name=event, config=config).result()
        except CallbackError as error:
            message = f"callback failed: {error.message}"
        context.wait(_seconds(2))
        return message

    return handler


@requirement("4-13")
def failure_caught_then_wait() -> Any:
    return _caught_then_wait()


@requirement("4-14")
def timeout_caught_then_wait() -> Any:
    return _caught_then_wait(CallbackConfig(timeout=_seconds(3)))


class _ReceivedSerDes(SerDes):
    """Parses the raw JSON payload and turns its ISO timestamp into epoch seconds."""

    def serialize(self, value: Any, serdes_context: SerDesContext) -> str:
        return json.dumps(value)

    def deserialize(self, data: str, serdes_context: SerDesContext) -> Any:
        raw = json.loads(data)
        moment = datetime.datetime.fromisoformat(raw["timestamp"].replace("Z", "+00:00"))
        return {"id": raw["id"], "message": raw["message"], "timestamp": int(moment.timestamp())}


class _NumberSerDes(SerDes):
    def serialize(self, value: Any, serdes_context: SerDesContext) -> str:
        return str(value)

    def deserialize(self, data: str, serdes_context: SerDesContext) -> Any:
        return int(json.loads(data))


@requirement("4-15")
def typed_object_serdes() -> Any:
    @durable_execution
    def handler(event: str, context: DurableContext) -> Any:
        received = context.create_callback(name=event, config=CallbackConfig(serdes=_ReceivedSerDes())).result()
        return {"received": received}

    return handler


@requirement("4-16")
def number_serdes() -> Any:
    @durable_execution
    def handler(event: str, context: DurableContext) -> Any:
        count: Any = context.create_callback(name=event, config=CallbackConfig(serdes=_NumberSerDes())).result()
        return {"count": count, "doubled": count * 2}

    return handler


@requirement("4-17")
def a_then_b() -> Any:
    @durable_execution
    def handler(event: list[str], context: DurableContext) -> Any:
        first = context.create_callback(name=event[0]).result()
        second = context.create_callback(name=event[1]).result()
        return [first, second]

    return handler


def _both_created(order: tuple[int, int]) -> Any:
    @durable_execution
    def handler(event: list[str], context: DurableContext) -> Any:
        callbacks = [context.create_callback(name=event[0]), context.create_callback(name=event[1])]
        results = {index: callbacks[index].result() for index in order}
        return [results[0], results[1]]

    return handler


@requirement("4-18")
def create_both_wait_a_then_b() -> Any:
    return _both_created((0, 1))


@requirement("4-19")
def create_both_wait_b_then_a() -> Any:
    return _both_created((1, 0))
