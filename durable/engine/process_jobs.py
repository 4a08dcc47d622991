"""What a worker process does with a job: import the handler it names and run one invocation.

`WorkerProcess` (an actor-layer handle) runs this inside the spawned process;
it lives here, above the actors, because running an invocation means the
user API (`durable.execution`, `durable.invocation`).
"""

from __future__ import annotations

import sys

from actors.messages import InvocationOutcome, Remote, RunHandler
from actors.process_link import RemoteRef, WorkerProcessError
from actors.topology import Topology
from actors.worker_process import ChildEngine, import_handler
from durable.execution import as_durable_handler, durable_execution, run_plain_function
from durable.invocation import Invocation


def run_job(job: RunHandler, engine: ChildEngine, topology: Topology) -> InvocationOutcome:
    """Run one invocation in this worker process: import the handler, then invoke it against the remote state."""
    sys.path.extend(path for path in job.sys_path if path not in sys.path)
    try:
        target = import_handler(job.module, job.qualname)
    except Exception as error:
        raise WorkerProcessError(
            f"the worker process cannot load {job.module}.{job.qualname}: {type(error).__name__}: {error}",
            "Runtime.ImportModuleError",
        ) from None
    record = job.record
    if not job.durable:
        return run_plain_function(target, record, job.started)
    handler = as_durable_handler(target) or durable_execution(target)
    state = RemoteRef(engine.link, Remote("state"), f"state of {record.execution_id}")
    invocation = Invocation(
        record.execution_id, state, job.snapshot, topology, engine, engine, record.tenant_id,  # type: ignore[arg-type]  # RemoteRef quacks like an ActorRef
        meta=job.meta, started=job.started,
    )
    if job.lambda_context is not None:
        invocation.lambda_context = job.lambda_context(invocation)
    return handler.invoke(invocation, record.input, job.started)
