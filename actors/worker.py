"""InvocationWorker: runs one invocation at a time on its own thread.

Owns: nothing durable; it is the thread that user code runs on.  Takes:
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
from actors.topology import Topology, TrackedActor

OnStarted = Callable[[int, float, "pykka.ActorRef[Any]"], None]


class Invoker(Protocol):
    def run(
        self, execution_id: str, alarm: bool, on_started: OnStarted, worker: str
    ) -> int | None: ...


class InvocationWorker(TrackedActor):
    def __init__(self, topology: Topology, dispatcher: pykka.ActorRef[Any], invoker: Invoker, name: str) -> None:
        super().__init__(topology, name, dispatcher.actor_urn)
        self.dispatcher = dispatcher
        self.invoker = invoker

    def handle(self, message: Any) -> Any:
        match message:
            case Offer(offer_id):
                self.send(self.dispatcher, Take(self.actor_urn, offer_id))
            case Invoke(execution_id, alarm):
                token: int | None = None

                def started(new_token: int, deadline: float, state: pykka.ActorRef[Any]) -> None:
                    self.send(
                        self.dispatcher, InvocationStarted(execution_id, new_token, self.actor_urn, deadline, state)
                    )

                try:
                    token = self.invoker.run(execution_id, alarm, started, self.actor_urn)
                except BaseException as error:
                    logger.opt(exception=error).error("invocation of {} crashed the worker", execution_id)
                with contextlib.suppress(pykka.ActorDeadError):  # the engine closed meanwhile
                    self.send(self.dispatcher, InvocationEnded(execution_id, token, self.actor_urn))
            case _:
                raise TypeError(f"InvocationWorker got an unexpected message {message!r}")
        return None
