"""A handler module that loads in the engine's process and refuses to load in a worker process."""

from __future__ import annotations

import multiprocessing
from typing import Any

from durable import DurableContext, durable_execution

if multiprocessing.parent_process() is not None:
    raise ImportError("this module refuses to load in a worker process")


@durable_execution
def handler(event: Any, context: DurableContext) -> str:
    return "loaded"
