"""The two ends of the pipe between the engine and a worker process.

A handler running in a worker process talks to the engine's actors exactly as
in a thread: it tells an ExecutionState (a lookup or checkpoint carries the
answer slot its thread waits on), its BatchParents tell it and are told.  The
links make that work across the pipe.  What cannot be pickled (a future
someone waits on, an actor ref someone will tell) is swapped on the way out
for a handle, and on the way in for a relay that sends the answer or the
message back over the pipe.

ParentLink (engine process, one per worker process) owns the parent's write
end, the actors lent to the invocation running in the child (`exports`), the
relays standing for the child's futures and refs, and the run waiting for the
child's HandlerDone.  It takes RunInProcess (from the InvocationWorker), Send
(from relays), Received (from its reader thread: RemoteTell, RemoteCall,
HandlerDone, ChildExited).  It never asks an actor: lookups and checkpoints
carry their answer slot, which crosses as a handle.  A service call is run
inline: the services lent (the clock, `start_chained`, tick subscriptions)
never wait on this link.

ChildLink (worker process) owns the child's write end, the futures its threads
wait on and the refs the parent may tell.  It takes Send (from the handler's
threads and actors) and Received (Resolve, Deliver, RunHandler); a RunHandler
starts the handler on its own thread, whose outcome goes back as HandlerDone.
"""

from __future__ import annotations

import contextlib
import itertools
import threading
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

import attrs
import pykka
from loguru import logger

from actors.messages import (
    ChildExited,
    Deliver,
    FutureHandle,
    HandlerDone,
    Received,
    RefHandle,
    Remote,
    RemoteCall,
    RemoteTell,
    Resolve,
    RunHandler,
    RunInProcess,
    Send,
    Settable,
)
from actors.pool import keep_this_thread_free
from actors.replies import Answer, reject, resolve
from actors.topology import Topology, TrackedActor


class WorkerProcessError(Exception):
    """The worker process could not finish the invocation: it died (exit, signal, crash), or it could not load
    the handler.  `error_type` is what the history records: Runtime.ExitError or Runtime.ImportModuleError."""

    def __init__(self, message: str, error_type: str = "Runtime.ExitError") -> None:
        super().__init__(message)
        self.error_type = error_type

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), (str(self), self.error_type)

    @classmethod
    def exited(cls, exitcode: int | None) -> WorkerProcessError:
        if exitcode is None:
            return cls("the worker process running the invocation exited")
        if exitcode < 0:
            return cls(f"the worker process running the invocation was killed by signal {-exitcode}")
        return cls(f"the worker process running the invocation exited with status {exitcode}")


def swap(value: Any, one: Callable[[Any], Any]) -> Any:
    """`value` with `one` applied to it and, recursively, to the fields of protocol messages and tuples."""
    swapped = one(value)
    if swapped is not value:
        return swapped
    if isinstance(value, tuple):
        items = tuple(swap(item, one) for item in value)
        return items if any(a is not b for a, b in zip(items, value, strict=True)) else value
    kind = type(value)
    if kind.__module__ == "actors.messages" and attrs.has(kind):
        changes = {}
        for field in attrs.fields(kind):
            current = getattr(value, field.name)
            new = swap(current, one)
            if new is not current:
                changes[field.alias] = new
        return attrs.evolve(value, **changes) if changes else value
    return value


def write(conn: Connection, message: Any) -> Exception | None:
    """Pickle `message` onto the pipe; the error if it will not pickle (nothing is sent then).

    A closed pipe is not an error here: the reader reports the other side's end.
    """
    try:
        conn.send(message)
    except (BrokenPipeError, EOFError, ConnectionResetError, OSError):
        logger.debug("the other end of a worker pipe is gone; dropped {}", type(message).__name__)
    except Exception as error:
        return error
    return None


def unsendable(message: Any, error: Exception) -> Any:
    """What to send instead of an answer that would not pickle, so whoever waits on it hears why."""
    why = f"{type(message).__name__} could not cross processes: {error}"
    if isinstance(message, Resolve):
        return Resolve(message.future, error=RuntimeError(why))
    if isinstance(message, HandlerDone):
        return HandlerDone(None, WorkerProcessError(why, "Runtime.Unknown"))
    logger.error(why)
    return None


def future_handles(message: Any) -> list[FutureHandle]:
    found: list[FutureHandle] = []

    def one(item: Any) -> Any:
        if isinstance(item, FutureHandle):
            found.append(item)
        return item

    swap(message, one)
    return found


# --- engine side


@attrs.frozen(slots=True)
class RelayFuture:
    """Stands in the engine for a future the child waits on: setting it sends the answer back."""

    link: pykka.ActorRef[Any]
    handle: FutureHandle

    def set(self, value: Any = None) -> None:
        self.link.tell(Send(Resolve(self.handle.id, value)))

    def set_exception(self, exc_info: Any = None) -> None:
        error = exc_info[1] if isinstance(exc_info, tuple) else exc_info
        self.link.tell(Send(Resolve(self.handle.id, error=error)))


@attrs.frozen(slots=True)
class RelayRef:
    """Stands in the engine for an actor of the child (a BatchParent, a TimerScheduler)."""

    link: pykka.ActorRef[Any]
    handle: RefHandle

    @property
    def actor_urn(self) -> str:
        return self.handle.urn

    def tell(self, message: Any) -> None:
        self.link.tell(Send(Deliver(self.handle.id, message)))


class ParentLink(TrackedActor):
    def __init__(
        self, topology: Topology, conn: Connection, services: dict[str, Callable[..., Any]], name: str
    ) -> None:
        super().__init__(topology, name)
        self.conn = conn
        self.services = services
        self.exports: dict[str, Any] = {}
        self.relays: dict[int, RelayRef] = {}
        self.running: Settable | None = None
        self.exited = False

    def handle(self, message: Any) -> Any:
        match message:
            case RunInProcess(job, exports, reply_to):
                if self.exited:
                    reject(reply_to, WorkerProcessError.exited(None))
                    return None
                failed = write(self.conn, job)
                if failed is not None:
                    why = f"the job could not cross processes: {failed}"
                    reject(reply_to, WorkerProcessError(why, "Runtime.Unknown"))
                    return None
                self.exports, self.running, self.relays = exports, reply_to, {}
            case Send(outgoing, _):
                self._write(outgoing)
            case Received(incoming):
                try:
                    self._received(incoming)
                except Exception as error:  # one bad message from the child must not stop the link
                    logger.opt(exception=error).error("dropped {} from a worker process", type(incoming).__name__)
            case _:
                raise TypeError(f"ParentLink got an unexpected message {message!r}")
        return None

    def _received(self, message: Any) -> None:
        match message:
            case RemoteTell(target, inner):
                if target.name not in self.exports:
                    logger.debug("{} for {} arrived after its invocation ended", type(inner).__name__, target.name)
                    return
                with contextlib.suppress(pykka.ActorDeadError):
                    self._target(target).tell(self._inward(inner))
            case RemoteCall(method, args, reply_to):
                self._answer(reply_to, lambda: self._service(method)(*self._inward(args)))
            case HandlerDone(outcome, error):
                running, self.running, self.exports = self.running, None, {}
                if error is not None:
                    reject(running, error)
                else:
                    resolve(running, outcome)
            case ChildExited(exitcode):
                self.exited = True
                running, self.running, self.exports = self.running, None, {}
                reject(running, WorkerProcessError.exited(exitcode))
            case _:
                raise TypeError(f"ParentLink received an unexpected message {message!r}")

    def _answer(self, handle: FutureHandle, compute: Callable[[], Any]) -> None:
        try:
            answer = Resolve(handle.id, compute())
        except Exception as error:
            answer = Resolve(handle.id, error=error)
        self._write(answer)

    def _write(self, message: Any) -> None:
        failed = write(self.conn, message)
        instead = unsendable(message, failed) if failed is not None else None
        if instead is not None:
            write(self.conn, instead)

    def _target(self, target: Remote) -> Any:
        ref = self.exports.get(target.name)
        if ref is None:
            raise LookupError(f"no actor {target.name!r} is lent to the worker process now")
        return ref

    def _service(self, method: str) -> Callable[..., Any]:
        service = self.services.get(method)
        if service is None:
            raise LookupError(f"the engine lends no service {method!r} to worker processes")
        return service

    def _inward(self, value: Any) -> Any:
        def one(item: Any) -> Any:
            if isinstance(item, FutureHandle):
                return RelayFuture(self.actor_ref, item)
            if isinstance(item, RefHandle):
                relay = self.relays.get(item.id)
                if relay is None:
                    relay = self.relays[item.id] = RelayRef(self.actor_ref, item)
                return relay
            if isinstance(item, Remote):
                return self._target(item)
            return item

        return swap(value, one)


# --- worker process side


@attrs.frozen(slots=True)
class RemoteRef:
    """Stands in the worker process for an actor of the engine; quacks like the ActorRef it replaces."""

    link: pykka.ActorRef[Any]
    remote: Remote
    actor_urn: str

    def tell(self, message: Any) -> None:
        """Returns once the message is on the pipe: a tell made just before the process dies still arrives."""
        written: pykka.ThreadingFuture[Any] = pykka.ThreadingFuture()
        self.link.tell(Send(RemoteTell(self.remote, message), written))
        written.get()



class ChildLink(TrackedActor):
    def __init__(self, topology: Topology, conn: Connection, run: Callable[[RunHandler], Any]) -> None:
        super().__init__(topology, "worker process")
        self.conn = conn
        self.run = run
        self.ids = itertools.count(1)
        self.futures: dict[int, Settable] = {}
        self.refs: dict[int, pykka.ActorRef[Any]] = {}

    def on_start(self) -> None:
        keep_this_thread_free()

    def handle(self, message: Any) -> Any:
        match message:
            case Send(outgoing, written):
                swapped = swap(outgoing, self._outward)
                failed = write(self.conn, swapped)
                if failed is not None:
                    for handle in future_handles(swapped):
                        reject(self.futures.pop(handle.id, None), RuntimeError(f"could not cross processes: {failed}"))
                    instead = unsendable(swapped, failed)
                    if instead is not None:
                        write(self.conn, instead)
                resolve(written, None)
            case Received(RunHandler() as job):
                self.refs.clear()
                threading.Thread(target=self._run, args=(job,), name="durable-handler", daemon=True).start()
            case Received(Resolve(future_id, value, error)):
                future = self.futures.pop(future_id, None)
                if error is not None:
                    reject(future, error)
                else:
                    resolve(future, value)
            case Received(Deliver(ref_id, inner)):
                ref = self.refs.get(ref_id)
                if ref is not None:
                    with contextlib.suppress(pykka.ActorDeadError):
                        ref.tell(inner)
            case _:
                raise TypeError(f"ChildLink got an unexpected message {message!r}")
        return None

    def _run(self, job: RunHandler) -> None:
        try:
            done = HandlerDone(self.run(job))
        except BaseException as error:  # SystemExit too: the engine records a crashed invocation, never waits on it
            done = HandlerDone(None, error)
        self.actor_ref.tell(Send(done))

    def _outward(self, item: Any) -> Any:
        if isinstance(item, RemoteRef):
            return item.remote
        if isinstance(item, pykka.Future | Answer):
            handle = next(self.ids)
            self.futures[handle] = item
            return FutureHandle(handle)
        if isinstance(item, pykka.ActorRef):
            handle = next(self.ids)
            self.refs[handle] = item
            return RefHandle(handle, item.actor_urn)
        return item


def call(link: pykka.ActorRef[Any], method: str, *args: Any) -> Any:
    """Call a service the engine lends to worker processes, and wait for its answer."""
    future: pykka.ThreadingFuture[Any] = pykka.ThreadingFuture()
    link.tell(Send(RemoteCall(method, args, future)))
    return future.get()
