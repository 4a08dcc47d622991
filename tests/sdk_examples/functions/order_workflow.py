"""An end-to-end order workflow: steps, a wait, a parallel fan-out, an approval callback."""


from durable import (
    DurableContext,
    StepContext,
    durable_execution,
    durable_step,
)
from durable.config import Duration, WaitForCallbackConfig
from durable.types import WaitForCallbackContext


@durable_step
def validate_order(step_ctx: StepContext, order_id: str) -> dict:
    step_ctx.logger.info("Validating order", extra={"order_id": order_id})
    return {"order_id": order_id, "valid": True}


@durable_execution
def handler(event: dict, context: DurableContext) -> dict:
    order_id = event["order_id"]
    validation = context.step(validate_order(order_id), name="validate_order")
    if not validation["valid"]:
        return {"status": "rejected", "order_id": order_id}
    context.wait(duration=Duration.from_seconds(5), name="await_confirmation")
    checks = context.parallel(
        [
            lambda ctx: ctx.step(lambda _: "fraud-ok", name="fraud_check"),
            lambda ctx: ctx.step(lambda _: "stock-ok", name="stock_check"),
        ],
        name="checks",
    )

    def request_approval(callback_id: str, ctx: WaitForCallbackContext) -> None:
        ctx.logger.info("approval requested")

    approval = context.wait_for_callback(
        request_approval,
        name="manager",
        config=WaitForCallbackConfig(timeout=Duration.from_minutes(30)),
    )
    return {"status": "approved", "order_id": order_id, "checks": checks.get_results(), "approval": approval}
