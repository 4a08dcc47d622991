"""Decode checkpointed payloads the way the examples' assertions expect."""

from __future__ import annotations

import json
from typing import Any

from durable.serdes import ExtendedTypeSerDes, SerDes, SerDesContext


def deserialize_operation_payload(payload: str | None, serdes: SerDes | None = None) -> Any:
    """Operation results use the extended-type envelope; execution results are plain JSON."""
    if payload is None:
        return None
    serdes = serdes or ExtendedTypeSerDes()
    try:
        return serdes.deserialize(payload, SerDesContext())
    except Exception:
        return json.loads(payload)
