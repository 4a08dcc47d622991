"""InvocationWorker: runs one invocation at a time, on its own thread or in its worker process.

Owns: nothing durable; with `isolation="thread"` it is the thread user code
runs on, with `isolation="process"` it owns a WorkerProcess where user code
runs (and starts a fresh one when that one dies: the invocation is recorded
as ended with Runtime.ExitError and the execution is made ready again).  Takes:
Offer (answered with Take while the worker is free to run it) and Invoke.
Sends: Take, InvocationStarted and InvocationEnded to the Dispatcher.
What an invocation does is the engine's `Invoker`; the worker only gives it a
thread and reports.  It never raises into pykka: a crash of the invoker is
logged and reported as an ended invocation.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any, Protocol

import pykka
from loguru import logger

from actors.messages import InvocationEnded, InvocationStarted, Invoke, Offer, Take
from actors.process_link import WorkerProcessError
from actors.topology import Topology, TrackedActor
from actors.worker_process import WorkerProcess

OnStarted = Callable[[int, float, "pykka.ActorRef[Any]"], None]


class RunAgainError(Exception):
    """Raised by an InvocationRunner once it recorded an invocation that ended asking to be run again
    (a retryable InvocationError from the handler): the Dispatcher re-runs it as after a crash, backing off."""


class InvocationRunner(Protocol):
    def run(
        self, execution_id: str, alarm: bool, on_started: OnStarted, worker: str, process: WorkerProcess | None,
        timed_out: int = 0,
    ) -> int | None: ...


class InvocationWorker(TrackedActor):
    def __init__(
        self,
        topology: Topology,
        dispatcher: pykka.ActorRef[Any],
        invoker: InvocationRunner,
        name: str,
        process: WorkerProcess | None = None,
    ) -> None:
        super().__init__(topology, name, dispatcher.actor_urn)
        self.dispatcher = dispatcher
        self.invoker = invoker
        self.process = process

    def on_start(self) -> None:
        if self.process is not None:
            self.process.start()

    def on_stop(self) -> None:
        if self.process is not None:
            self.process.stop()
        super().on_stop()

    def handle(self, message: Any) -> Any:
        match message:
            case Offer(offer_id):
                self.send(self.dispatcher, Take(self.actor_urn, offer_id))
            case Invoke(execution_id, alarm, timed_out):
                token: int | None = None
                died = False

                pid = self.process.pid if self.process is not None else None

                def started(new_token: int, deadline: float, state: pykka.ActorRef[Any]) -> None:
                    self.send(
                        self.dispatcher,
                        InvocationStarted(execution_id, new_token, self.actor_urn, deadline, state, pid),
                    )

                try:
                    token = self.invoker.run(execution_id, alarm, started, self.actor_urn, self.process, timed_out)
                except WorkerProcessError as lost:
                    logger.warning("{}; starting a new worker process and running {} again", lost, execution_id)
                    assert self.process is not None
                    self.process.restart()
                    died = True
                except RunAgainError as again:
                    logger.warning("invocation of {} asked to be run again: {}", execution_id, again)
                    died = True
                except BaseException as error:  # recorded by the invoker where it could be; run it again, backing off
                    logger.opt(exception=error).error("invocation of {} crashed", execution_id)
                    died = True
                with contextlib.suppress(pykka.ActorDeadError):  # the engine closed meanwhile
                    self.send(self.dispatcher, InvocationEnded(execution_id, token, self.actor_urn, died))
            case _:
                raise TypeError(f"InvocationWorker got an unexpected message {message!r}")
        return None
