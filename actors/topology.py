"""Who exists and who talks to whom: a registry of actors and per-edge message counts.

Counting is cheap enough to stay on: each sender counts what it sends in a
dict only it writes; the TopologyKeeper actor owns the registry and copies
those dicts (one C-level copy each) when a picture is asked for.
`TrackedActor` is the base every runtime actor derives from.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from typing import Any

import pykka
from cachetools import LRUCache
from loguru import logger

from actors.messages import (
    ActorInfo,
    Annotate,
    CallerCounts,
    Picture,
    Registered,
    TopologyPicture,
    Unregistered,
)

CALLER = "caller"


class Topology:
    """Who exists and who talks to whom; one per engine.  Any thread may report; the keeper owns the picture.

    Reports (an actor started or stopped, a note on it, a per-thread count of
    sends from outside the actors) are messages to the `TopologyKeeper` actor,
    which alone holds the registry.  A send is counted by whoever sends it: an
    actor in its own `sent` dict (written only while it handles a message),
    a non-actor thread in a dict of its own (`threading.local`), each handed
    to the keeper once, which copies them when a picture is asked for.  No
    shared container is written from two threads.
    """

    def __init__(self) -> None:
        self.keeper: pykka.ActorRef[TopologyKeeper] = TopologyKeeper.start()
        self._local = threading.local()

    def annotate(self, urn: str, note: str) -> None:
        """A line shown under the actor's name in the picture (a worker's counters, say)."""
        self._report(Annotate(urn, note))

    def register(self, info: ActorInfo) -> None:
        self._report(Registered(info))

    def unregister(self, urn: str) -> None:
        self._report(Unregistered(urn))

    def _report(self, message: Any) -> None:
        """Tell the keeper; once it has stopped (the engine closed), reports from late stoppers are dropped."""
        with contextlib.suppress(pykka.ActorDeadError):
            self.keeper.tell(message)

    def tell(self, ref: pykka.ActorRef[Any], message: Any) -> None:
        """Send from a non-actor thread (a handler, the engine facade), counted as 'caller'."""
        counts: dict[str, int] | None = getattr(self._local, "counts", None)
        if counts is None:
            counts = self._local.counts = {}
            self._report(CallerCounts(counts))
        urn = ref.actor_urn
        counts[urn] = counts.get(urn, 0) + 1
        ref.tell(message)

    def picture(self) -> TopologyPicture:
        """The actors, the edges between them and the Graphviz DOT of both, as the keeper holds them now."""
        picture: TopologyPicture = self.keeper.ask(Picture(), block=True)
        return picture

    def actors(self) -> list[ActorInfo]:
        return list(self.picture().actors)

    def edges(self) -> list[tuple[str, str, int]]:
        return self.picture().edges

    def to_dot(self) -> str:
        """Graphviz DOT: one node per actor; a kind with many actors, or stopped ones, is one node."""
        return self.picture().dot

    def close(self) -> None:
        with contextlib.suppress(pykka.ActorDeadError):
            self.keeper.stop()


class TopologyKeeper(pykka.ThreadingActor):
    """Owns the registry of actors, the notes on them and the counts of stopped ones.

    Takes Registered, Unregistered, Annotate, CallerCounts and Picture (answered
    with a TopologyPicture).  A stopped actor's counts are folded by kind, so
    short-lived actors do not pile up.
    """

    use_daemon_thread = True

    def __init__(self) -> None:
        super().__init__()
        self.actors: dict[str, ActorInfo] = {}
        self.kinds: LRUCache[str, str] = LRUCache(maxsize=100_000)
        self.retired: dict[tuple[str, str], int] = {}
        self.notes: dict[str, str] = {}
        self.caller_counts: list[dict[str, int]] = []

    def on_receive(self, message: Any) -> Any:
        match message:
            case Registered(info):
                self.actors[info.urn] = info
                self.kinds[info.urn] = info.kind
            case Unregistered(urn):
                self.notes.pop(urn, None)
                if urn in self.actors:
                    self._retire(self.actors.pop(urn))
            case Annotate(urn, note):
                if urn in self.actors:
                    self.notes[urn] = note
            case CallerCounts(counts):
                self.caller_counts.append(counts)
            case Picture():
                edges = self._edges()
                return TopologyPicture(tuple(self.actors.values()), edges, self._dot(edges))
            case _:
                raise TypeError(f"TopologyKeeper got an unexpected message {message!r}")
        return None

    def _retire(self, info: ActorInfo) -> None:
        for target, count in dict(info.sent).items():
            key = (info.kind, self.kinds.get(target, "unknown"))
            self.retired[key] = self.retired.get(key, 0) + count

    def _edges(self) -> list[tuple[str, str, int]]:
        edges = [
            (info.urn, target, count) for info in self.actors.values() for target, count in dict(info.sent).items()
        ]
        callers: dict[str, int] = {}
        for counts in self.caller_counts:
            for target, count in dict(counts).items():
                callers[target] = callers.get(target, 0) + count
        edges += [(CALLER, target, count) for target, count in callers.items()]
        return edges

    def _dot(self, edges: list[tuple[str, str, int]]) -> str:
        infos = list(self.actors.values())
        by_kind: dict[str, int] = {}
        for info in infos:
            by_kind[info.kind] = by_kind.get(info.kind, 0) + 1
        many = {kind for kind, n in by_kind.items() if n > 12}

        def kind_node(kind: str) -> str:
            return f"{kind} (x{by_kind[kind]})" if kind in many else f"{kind} (stopped)"

        def node(urn: str) -> str:
            if urn == CALLER:
                return CALLER
            info = self.actors.get(urn)
            if info is None:
                return kind_node(self.kinds.get(urn, "unknown"))
            if info.kind in many:
                return kind_node(info.kind)
            note = self.notes.get(urn)
            return f"{info.kind}\\n{info.name}" + (f"\\n{note}" if note else "")

        weights: dict[tuple[str, str], int] = {}
        for source, target, count in edges:
            key = (node(source), node(target))
            weights[key] = weights.get(key, 0) + count
        for (source_kind, target_kind), count in self.retired.items():
            key = (kind_node(source_kind), kind_node(target_kind))
            weights[key] = weights.get(key, 0) + count
        nodes = {node(info.urn) for info in infos} | {CALLER} | {n for pair in weights for n in pair}
        lines = ["digraph durable {", '  rankdir=LR; node [shape=box, fontname="Helvetica"];']
        lines += [f'  "{name}";' for name in sorted(nodes)]
        lines += [f'  "{a}" -> "{b}" [label="{n}"];' for (a, b), n in sorted(weights.items())]
        lines.append("}")
        return "\n".join(lines) + "\n"


class TrackedActor(pykka.ThreadingActor):
    """Base of every runtime actor: registers itself, counts what it sends, contains stray signals.

    Subclasses implement `handle(message)`.  Threads are daemons: a handler
    stuck in user code must not keep the process alive after the engine closed.  A BaseException that is not an
    Exception escaping a pykka handler would stop every actor in the process,
    so it is caught here and logged; handlers turn such signals into messages.
    """

    use_daemon_thread = True

    def __init__(self, topology: Topology, name: str, parent: str | None = None) -> None:
        super().__init__()
        self.topology = topology
        self.sent: dict[str, int] = {}
        self.topology.register(ActorInfo(self.actor_urn, type(self).__name__, name, parent, self.sent))

    @staticmethod
    def _create_actor_inbox() -> Any:
        """A C-level SimpleQueue: no Condition to take on every put and get (pykka's default is a queue.Queue)."""
        return queue.SimpleQueue()

    def send(self, ref: pykka.ActorRef[Any], message: Any) -> None:
        urn = ref.actor_urn
        self.sent[urn] = self.sent.get(urn, 0) + 1
        ref.tell(message)

    def on_receive(self, message: Any) -> Any:
        try:
            return self.handle(message)
        except Exception:
            raise
        except BaseException as signal:
            logger.opt(exception=signal).error("{} swallowed a stray {}", type(self).__name__, type(signal).__name__)
            return None

    def handle(self, message: Any) -> Any:
        raise NotImplementedError

    def on_stop(self) -> None:
        self.topology.unregister(self.actor_urn)
