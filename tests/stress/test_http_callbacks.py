"""1,000 waiting executions, 1,000 callbacks completed concurrently over HTTP: each ends once, with its own payload.

The size is `DURABLE_STRESS_CALLBACKS` (default 1,000).
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import threading
from pathlib import Path

import httpx
import pytest

from durable.core.records import OperationStatus
from durable.engine import Engine
from durable.http_api import serving_in_background
from durable.stores.base import ExecutionStatus
from tests.conftest import wait_until
from tests.workflows import approval

TOKEN = "test-token-0123456789abcdef-0123456789"

pytestmark = [pytest.mark.stress, pytest.mark.timeout(300)]
COUNT = int(os.environ.get("DURABLE_STRESS_CALLBACKS", "1000"))


def test_concurrent_completions_over_http_each_apply_exactly_once(tmp_path: Path) -> None:
    with Engine(store=f"sqlite:///{tmp_path / 'stress.db'}", functions=[approval], workers=8) as engine:
        ids = [engine.start("approval") for _ in range(COUNT)]

        def callback_ids() -> dict[str, str] | None:
            found = {}
            for eid in ids:
                ops = [op for op in engine.operations(eid) if op.status is OperationStatus.STARTED]
                if not ops or engine.status(eid).invocation_open:
                    return None
                found[eid] = str(ops[0].callback_id)
            return found

        callbacks = wait_until(callback_ids, timeout=120, what=f"{COUNT} executions waiting on callbacks")
        assert isinstance(callbacks, dict)
        local = threading.local()

        def complete(eid: str) -> int:
            client = getattr(local, "client", None)
            if client is None:
                client = local.client = httpx.Client(headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60)
            body = json.dumps({"for": eid}).encode()
            return client.post(f"{url}/callbacks/{callbacks[eid]}/succeed", content=body).status_code

        with serving_in_background(engine, TOKEN) as url, concurrent.futures.ThreadPoolExecutor(64) as pool:
            statuses = list(pool.map(complete, ids))
            assert statuses == [204] * COUNT
            again = list(pool.map(complete, ids[:10]))
            assert again == [409] * 10
        for eid in ids:
            record = engine.wait(eid, timeout=120)
            assert record.status is ExecutionStatus.SUCCEEDED
            assert json.loads(record.result or "") == {"approved": {"for": eid}}
            assert sum(e["EventType"] == "CallbackSucceeded" for e in engine.history(eid)) == 1
