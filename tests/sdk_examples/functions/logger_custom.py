"""context.set_logger: route durable logs through an application logger."""

import logging
from typing import Any

from durable.context import DurableContext
from durable.execution import durable_execution

app_logger = logging.getLogger("orders.app")


@durable_execution
def handler(_event: Any, context: DurableContext) -> str:
    context.set_logger(app_logger)
    context.logger.info("using the app logger")
    context.step(lambda step_ctx: step_ctx.logger.error("step failed softly") or "ok", name="soft_step")
    return "ok"
