"""Who exists and who talks to whom: a registry of actors and per-edge message counts.

Counting is cheap enough to stay on: each actor counts what it sends in its
own dict, touched only by its own thread; the registry keeps a reference to
that dict and copies it (one C-level copy) when a picture is asked for.
`TrackedActor` is the base every runtime actor derives from.
"""

from __future__ import annotations

import collections
import itertools
from collections.abc import Iterator
from typing import Any

import attrs
import pykka
from cachetools import LRUCache
from loguru import logger

CALLER = "caller"


@attrs.frozen(slots=True)
class ActorInfo:
    urn: str
    kind: str
    name: str
    parent: str | None
    sent: dict[str, int] = attrs.field(eq=False, hash=False, repr=False)


class Topology:
    """The registry; one per engine.  The picture is rendered from one thread at a time."""

    def __init__(self) -> None:
        self._actors: dict[str, ActorInfo] = {}
        self._kinds: LRUCache[str, str] = LRUCache(maxsize=100_000)
        self._retired: dict[tuple[str, str], int] = {}
        self._retiring: collections.deque[tuple[str, str, int]] = collections.deque(maxlen=500_000)
        self._caller_edges: dict[str, itertools.count[int]] = {}
        self._notes: dict[str, str] = {}

    def annotate(self, urn: str, note: str) -> None:
        """A line shown under the actor's name in the picture (a worker's counters, say); one writer per actor."""
        self._notes[urn] = note

    def register(self, info: ActorInfo) -> None:
        self._actors[info.urn] = info
        self._kinds[info.urn] = info.kind

    def unregister(self, urn: str) -> None:
        """Drop a stopped actor, keeping its counts by kind, so short-lived actors do not pile up.

        Stopping actors only append to a deque (an atomic operation); the
        thread that renders the picture folds the deque into the totals.
        """
        info = self._actors.pop(urn, None)
        if info is None:
            return
        for target, count in dict(info.sent).items():
            self._retiring.append((info.kind, self._kinds.get(target, "unknown"), count))

    def _fold_retired(self) -> dict[tuple[str, str], int]:
        while self._retiring:
            source, target, count = self._retiring.popleft()
            self._retired[(source, target)] = self._retired.get((source, target), 0) + count
        return dict(self._retired)

    def tell(self, ref: pykka.ActorRef[Any], message: Any) -> None:
        """Send from a non-actor thread (a handler, the engine facade), counted as 'caller'."""
        counter = self._caller_edges.get(ref.actor_urn)
        if counter is None:
            counter = self._caller_edges.setdefault(ref.actor_urn, itertools.count(1))
        next(counter)
        ref.tell(message)

    def actors(self) -> list[ActorInfo]:
        return list(self._actors.values())

    def edges(self) -> Iterator[tuple[str, str, int]]:
        for info in self.actors():
            for target, count in dict(info.sent).items():
                yield info.urn, target, count
        for target, counter in list(self._caller_edges.items()):
            yield CALLER, target, int(repr(counter)[6:-1]) - 1

    def to_dot(self) -> str:
        """Graphviz DOT: one node per actor; a kind with many actors, or stopped ones, is one node."""
        infos = self.actors()
        by_kind: dict[str, int] = {}
        for info in infos:
            by_kind[info.kind] = by_kind.get(info.kind, 0) + 1
        many = {kind for kind, n in by_kind.items() if n > 12}

        def kind_node(kind: str) -> str:
            return f"{kind} (x{by_kind[kind]})" if kind in many else f"{kind} (stopped)"

        def node(urn: str) -> str:
            if urn == CALLER:
                return CALLER
            info = self._actors.get(urn)
            if info is None:
                return kind_node(self._kinds.get(urn, "unknown"))
            if info.kind in many:
                return kind_node(info.kind)
            note = self._notes.get(urn)
            return f"{info.kind}\\n{info.name}" + (f"\\n{note}" if note else "")

        weights: dict[tuple[str, str], int] = {}
        for source, target, count in self.edges():
            key = (node(source), node(target))
            weights[key] = weights.get(key, 0) + count
        for (source_kind, target_kind), count in self._fold_retired().items():
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
