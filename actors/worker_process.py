"""Worker processes: where handlers run under `isolation="process"`.

A handler that calls `os._exit`, segfaults or is killed by the OS takes down
its worker process, not the engine.  `WorkerProcess` is the engine's handle
on one such process (owned by one InvocationWorker): it spawns it, runs
invocations in it through a ParentLink, and reports its death as
`WorkerProcessError`, after which the worker starts a fresh one.  A process
that cannot import the handler reports that the same way.

The process is spawned, not forked: the engine is full of threads, and a
fork would copy their locks mid-use.  It gets the handler by module and name
(so a process-isolated handler must be importable), reads nothing from the
store, and sends its log records to the engine on a pipe of their own, so a
line logged just before a crash is not lost.  It exits when the engine's end
of the pipe closes.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import multiprocessing
import sys
import threading
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

import pykka
from loguru import logger

from actors.collector import YOUNG_THRESHOLD, raise_young_threshold
from actors.messages import ChildExited, InvocationOutcome, Received, RunHandler, RunInProcess
from actors.pool import ActorPool
from actors.process_link import ChildLink, ParentLink, WorkerProcessError, call
from actors.topology import Topology
from durable.core.every_level import every_level_handlers
from durable.exceptions import ValidationError

LOG_EXTRA_TYPES = (str, int, float, bool, type(None))
JobRunner = Callable[[RunHandler, "ChildEngine", Topology], InvocationOutcome]


def handler_reference(name: str, handler: Any) -> tuple[str, str]:
    """Where a worker process imports `handler` from; a clear error if it cannot."""
    module = getattr(handler, "__module__", None)
    qualname = getattr(handler, "__qualname__", None)
    if not module or not qualname or "<locals>" in qualname or "<lambda>" in qualname:
        raise ValidationError(
            f"function {name!r} cannot run with isolation='process': a worker process imports its handler by "
            f"module and name, and {qualname or handler!r} is not defined at the top level of a module"
        )
    return module, qualname


def import_handler(module: str, qualname: str) -> Any:
    target: Any = sys.modules.get(module) or importlib.import_module(module)
    for part in qualname.split("."):
        target = getattr(target, part)
    return target


class WorkerProcess:
    """The engine's handle on one worker process; used by the InvocationWorker that owns it."""

    def __init__(
        self, topology: Topology, services: dict[str, Any], name: str, run_job: JobRunner,
        collector_threshold: int | None = YOUNG_THRESHOLD,
    ) -> None:
        """`services`: what the engine lends the handler by name (what ChildEngine calls), run in the engine.

        `run_job` runs one RunHandler inside the process: a module-level function (the process imports it by
        name), so that what a handler is stays above the actors.  `collector_threshold`: see actors.collector.
        """
        self.topology = topology
        self.services = services
        self.name = name
        self.run_job = run_job
        self.collector_threshold = collector_threshold
        self.process: Any = None
        self.link: pykka.ActorRef[Any] | None = None
        self.conn: Connection | None = None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def start(self) -> None:
        context = multiprocessing.get_context("spawn")
        conn, child_conn = context.Pipe()
        logs, child_logs = context.Pipe(duplex=False)
        self.process = context.Process(
            target=child_main, args=(child_conn, child_logs, self.run_job, self.collector_threshold),
            name=f"durable-{self.name}", daemon=True,
        )
        self.process.start()
        child_conn.close()
        child_logs.close()
        self.conn = conn
        self.link = ParentLink.start(self.topology, conn, self.services, f"{self.name} link")
        log_reader = threading.Thread(target=_relay_logs, args=(logs,), name=f"{self.name}-logs", daemon=True)
        log_reader.start()
        threading.Thread(
            target=_read, args=(conn, self.link, self.process, log_reader), name=f"{self.name}-pipe", daemon=True
        ).start()

    def run(self, job: RunHandler, exports: dict[str, Any]) -> InvocationOutcome:
        """Run `job` in the process; raises WorkerProcessError if the process dies first or cannot load the handler."""
        future: pykka.ThreadingFuture[Any] = pykka.ThreadingFuture()
        try:
            if self.link is None:
                raise pykka.ActorDeadError("the worker process is stopped")
            self.link.tell(RunInProcess(job, exports, future))
        except pykka.ActorDeadError:
            raise WorkerProcessError.exited(None) from None
        return future.get()

    def stop(self) -> None:
        """Close the pipe (the process exits on its own), then make sure it is gone."""
        if self.conn is not None:
            self.conn.close()
        if self.link is not None:
            self.link.stop(block=False)
        if self.process is not None:
            self.process.join(timeout=1)
            if self.process.is_alive():
                self.process.kill()
                self.process.join(timeout=1)
        self.process = self.link = self.conn = None

    def restart(self) -> None:
        self.stop()
        self.start()


def _read(conn: Connection, link: pykka.ActorRef[Any], process: Any, log_reader: threading.Thread) -> None:
    """The engine's reader of one worker pipe: everything goes to the link, then the process's end."""
    try:
        while True:
            link.tell(Received(conn.recv()))
    except (EOFError, OSError):
        pass
    except pykka.ActorDeadError:
        return
    process.join(timeout=5)
    log_reader.join(timeout=5)
    with contextlib.suppress(pykka.ActorDeadError):
        link.tell(Received(ChildExited(process.exitcode)))


def _relay_logs(logs: Connection) -> None:
    """Log, in the engine, each record a worker process sent, as if its own module had logged it here."""
    try:
        while True:
            record = logs.recv()
            if record.get("stdlib"):
                _emit_stdlib(record["stdlib"])
            else:
                emit(record)
    except (EOFError, OSError):
        return


def _emit_stdlib(fields: dict[str, Any]) -> None:
    """A user's `logging` record from a worker process, handled here as its logger would have."""
    target = logging.getLogger(fields.get("name") or None)
    if target.isEnabledFor(int(fields.get("levelno", logging.INFO))):
        target.handle(logging.makeLogRecord(fields))
        return
    hearers = every_level_handlers(target)
    if hearers:
        record = logging.makeLogRecord(fields)
        for handler in hearers:
            handler.handle(record)


_emitters: dict[str, Any] = {}


def emit(record: dict[str, Any]) -> None:
    """Log `record` through an emitter whose module name is the record's, so loguru's enable/disable applies."""
    name = record["name"] or "worker"
    emitter = _emitters.get(name)
    if emitter is None:
        scope: dict[str, Any] = {"__name__": name, "logger": logger}
        source = "def emit(level, message, extra, where):\n    logger.bind(**extra).patch(where).log(level, message)\n"
        exec(source, scope)
        emitter = _emitters.setdefault(name, scope["emit"])

    def where(entry: Any) -> None:
        entry.update(function=record["function"], line=record["line"])

    emitter(record["level"], record["message"], record["extra"], where)


# --- in the worker process


class ChildEngine:
    """The engine as a handler in a worker process sees it: services lent over the link, a local branch pool."""

    def __init__(self) -> None:
        self.link: Any = None  # set once the ChildLink that runs jobs against this engine has started
        self._pool: ActorPool | None = None

    def now(self) -> float:
        return float(call(self.link, "now"))

    def wall(self) -> float:
        return float(call(self.link, "wall"))

    def has_function(self, name: str) -> bool:
        return bool(call(self.link, "has_function", name))

    def unknown_function(self, name: str) -> str:
        return str(call(self.link, "unknown_function", name))

    def start_chained(self, *args: Any) -> Any:
        return call(self.link, "start_chained", *args)

    def subscribe_ticks(self, ref: pykka.ActorRef[Any] | None, on: bool) -> None:
        call(self.link, "subscribe_ticks", ref, on)

    @property
    def branch_pool(self) -> ActorPool:
        if self._pool is None:
            self._pool = ActorPool(name="durable-branch")
        return self._pool


def child_main(
    conn: Connection, logs: Connection, run_job: JobRunner, collector_threshold: int | None = YOUNG_THRESHOLD
) -> None:
    """The worker process: forward logs, run jobs as they come, exit when the engine hangs up."""
    raise_young_threshold(collector_threshold)
    logger.remove()
    logger.enable("durable")
    logger.enable("actors")
    logger.add(lambda message: _send_log(logs, message.record), level="DEBUG", format="{message}")
    forward = _StdlibForwarder(logs)
    logging.getLogger().addHandler(forward)
    logging.getLogger().setLevel(logging.DEBUG)
    topology = Topology()
    engine = ChildEngine()
    link = engine.link = ChildLink.start(topology, conn, lambda job: run_job(job, engine, topology))
    try:
        while True:
            link.tell(Received(conn.recv()))
    except (EOFError, OSError):
        pass


class _StdlibForwarder(logging.Handler):
    """Sends each `logging` record of the worker process to the engine, formatted, with its extra fields."""

    def __init__(self, logs: Connection) -> None:
        super().__init__(logging.DEBUG)
        self.logs = logs

    def emit(self, record: logging.LogRecord) -> None:
        fields = {
            key: value for key, value in vars(record).items()
            if isinstance(value, LOG_EXTRA_TYPES) and key not in ("msg", "args", "exc_info", "exc_text")
        }
        message = record.getMessage()
        if record.exc_info:
            message += "\n" + "".join(traceback.format_exception(*record.exc_info))
        fields["msg"] = message
        with contextlib.suppress(OSError):
            self.logs.send({"stdlib": fields})


def _send_log(logs: Connection, record: Any) -> None:
    extra = {k: v for k, v in record["extra"].items() if isinstance(v, LOG_EXTRA_TYPES)}
    message = record["message"]
    if record["exception"] is not None:
        error = record["exception"]
        message += "\n" + "".join(traceback.format_exception(error.type, error.value, error.traceback))
    with contextlib.suppress(OSError):
        logs.send({"name": record["name"], "function": record["function"], "line": record["line"],
                   "level": record["level"].name, "message": message, "extra": extra})
