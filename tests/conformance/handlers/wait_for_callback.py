"""Handlers for the wait_for_callback suite (7-x): callback, submitter step and result in one child context."""

from __future__ import annotations

from typing import Any

from durable import DurableContext, durable_execution
from durable.config import Duration, JitterStrategy, WaitForCallbackConfig
from durable.exceptions import CallbackError
from durable.retries import RetryStrategyConfig, create_retry_strategy
from durable.serdes import JsonSerDes
from durable.types import WaitForCallbackContext

from . import handler_registry

HANDLERS, requirement = handler_registry()


def submit(callback_id: str, context: WaitForCallbackContext) -> None:
    """Receives the id and does nothing durable: the harness plays the outside system."""


def _named_by_input(config: WaitForCallbackConfig | None = None) -> Any:
    @durable_execution
    def handler(event: str, context: DurableContext) -> Any:
        return context.wait_for_callback(submit, name=event, config=config)

    return handler


def _recovering(fallback: str, config: WaitForCallbackConfig | None = None) -> Any:
    @durable_execution
    def handler(event: str, context: DurableContext) -> Any:
        try:
            return context.wait_for_callback(submit, name=event, config=config)
        except CallbackError:
            return fallback

    return handler


@requirement("7-1")
def basic() -> Any:
    return _named_by_input()


@requirement("7-2")
def static_name() -> Any:
    @durable_execution
    def handler(event: Any, context: DurableContext) -> Any:
        return context.wait_for_callback(submit, name="approval")

    return handler


@requirement("7-3")
def anonymous() -> Any:
    @durable_execution
    def handler(event: Any, context: DurableContext) -> Any:
        return context.wait_for_callback(lambda callback_id, _: None)

    return handler


@requirement("7-4")
def failure_not_caught() -> Any:
    return _named_by_input()


@requirement("7-5")
def timeout_not_caught() -> Any:
    return _named_by_input(WaitForCallbackConfig(timeout=Duration.from_seconds(3)))


@requirement("7-6")
def failure_caught() -> Any:
    return _recovering("recovered")


@requirement("7-7")
def submitter_keeps_failing() -> Any:
    def failing(callback_id: str, context: WaitForCallbackContext) -> None:
        raise RuntimeError("the approval service is down")

    retry = create_retry_strategy(
        RetryStrategyConfig(
            max_attempts=2, initial_delay=Duration.from_seconds(1), jitter_strategy=JitterStrategy.NONE
        )
    )

    @durable_execution
    def handler(event: str, context: DurableContext) -> Any:
        return context.wait_for_callback(failing, name=event, config=WaitForCallbackConfig(retry_strategy=retry))

    return handler


@requirement("7-8")
def inside_child_context() -> Any:
    @durable_execution
    def handler(event: str, context: DurableContext) -> Any:
        return context.run_in_child_context(lambda child: child.wait_for_callback(submit, name=event), name="wrapper")

    return handler


@requirement("7-9")
def two_in_sequence() -> Any:
    @durable_execution
    def handler(event: Any, context: DurableContext) -> Any:
        context.wait_for_callback(submit, name="first")
        return context.wait_for_callback(submit, name="second")

    return handler


@requirement("7-10")
def after_wait_and_step() -> Any:
    @durable_execution
    def handler(event: str, context: DurableContext) -> Any:
        context.wait(Duration.from_seconds(1))
        context.step(lambda _: {"prepared": True})
        return context.wait_for_callback(submit, name=event)

    return handler


@requirement("7-11")
def json_result() -> Any:
    @durable_execution
    def handler(event: str, context: DurableContext) -> Any:
        decision = context.wait_for_callback(submit, name=event, config=WaitForCallbackConfig(serdes=JsonSerDes()))
        return decision["status"]

    return handler


@requirement("7-12")
def heartbeat_missed() -> Any:
    return _named_by_input(WaitForCallbackConfig(heartbeat_timeout=Duration.from_seconds(5)))


@requirement("7-13")
def heartbeat_then_success() -> Any:
    return _named_by_input(WaitForCallbackConfig(heartbeat_timeout=Duration.from_seconds(10)))


@requirement("7-14")
def timeout_caught() -> Any:
    return _recovering("timed-out-handled", WaitForCallbackConfig(timeout=Duration.from_seconds(3)))


@requirement("7-15")
def empty_success() -> Any:
    return _named_by_input()
