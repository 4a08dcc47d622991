"""The default serdes round-trips datetime, date, Decimal, UUID, bytes, tuples and nested containers."""

import datetime
import uuid
from decimal import Decimal
from typing import Any

from durable.context import DurableContext
from durable.execution import durable_execution

ORDER_ID = uuid.UUID("12345678-1234-5678-1234-567812345678")


@durable_execution
def handler(_event: Any, context: DurableContext) -> dict:
    when = context.step(
        lambda _: datetime.datetime(2024, 5, 17, 12, 30, tzinfo=datetime.UTC), name="timestamp"
    )
    day = context.step(lambda _: datetime.date(2024, 5, 17), name="day")
    price = context.step(lambda _: Decimal("19.99"), name="price")
    order_id = context.step(lambda _: ORDER_ID, name="order_id")
    blob = context.step(lambda _: b"\x00\x01binary", name="blob")
    pair = context.step(lambda _: (1, "two", 3.0), name="pair")
    nested = context.step(
        lambda _: {"tags": ("a", "b"), "amounts": [Decimal("1.5")], "none": None}, name="nested"
    )
    plain = context.step(lambda _: [1, "x", True, None], name="plain_list")
    return {
        "when": [type(when).__name__, when.isoformat()],
        "day": [type(day).__name__, day.isoformat()],
        "price": [type(price).__name__, str(price)],
        "order_id": [type(order_id).__name__, str(order_id)],
        "blob": [type(blob).__name__, blob.hex()],
        "pair": [type(pair).__name__, list(pair)],
        "nested": [type(nested["tags"]).__name__, str(nested["amounts"][0]), nested["none"]],
        "plain": plain,
    }
