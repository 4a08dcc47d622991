"""A custom SerDes class for a step result (a dataclass stored as JSON)."""

import json
from dataclasses import asdict, dataclass
from typing import Any

from durable.config import StepConfig
from durable.context import DurableContext
from durable.execution import durable_execution
from durable.serdes import SerDes, SerDesContext


@dataclass(frozen=True)
class Invoice:
    number: str
    amount_cents: int


class InvoiceSerDes(SerDes[Invoice]):
    def serialize(self, value: Invoice, serdes_context: SerDesContext) -> str:
        return json.dumps({"invoice": asdict(value), "op": bool(serdes_context.operation_id)})

    def deserialize(self, data: str, serdes_context: SerDesContext) -> Invoice:
        return Invoice(**json.loads(data)["invoice"])


@durable_execution
def handler(event: Any, context: DurableContext) -> dict:
    invoice = context.step(
        lambda _: Invoice(number=event["number"], amount_cents=1250),
        name="create_invoice",
        config=StepConfig(serdes=InvoiceSerDes()),
    )
    return {"type": type(invoice).__name__, "number": invoice.number, "amount": invoice.amount_cents}
