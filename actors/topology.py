"""Who exists and who talks to whom: a registry of actors and per-edge message counts.

Counting is cheap enough to stay on: each sender counts what it sends in a
dict only it writes, and each actor counts what it handles (and whether it is
handling something now) in an `ActorGauge` only it writes; the TopologyKeeper
actor owns the registry and copies those counters (one C-level copy each)
when a picture or a sample is asked for.  A sample costs O(actors and their
edges), whatever the message rate.  `TrackedActor` is the base every runtime
actor derives from.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from typing import Any

import attrs
import pykka
from cachetools import LRUCache
from loguru import logger

from actors.messages import (
    ActorGauge,
    ActorInfo,
    Annotate,
    CallerCounts,
    ForgetReader,
    GraphNode,
    Picture,
    Registered,
    Sample,
    SampledNode,
    TopologyGraph,
    TopologyPicture,
    TopologySample,
    Unregistered,
)

CALLER = "caller"
#: past this many live actors of one kind, a picture or sample folds them into one node
MANY = 12
#: kinds whose actors are folded into one node per parent (a map's branches), however few
BY_PARENT = frozenset({"Branch"})


class _CallerCounts(threading.local):
    """Per thread outside the actors: its sends by receiver (None, the class default: none yet)."""

    counts: dict[str, int] | None = None


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
        self._local = _CallerCounts()

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
        counts = self._local.counts
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

    def sample(self, reader: str) -> TopologySample:
        """What changed since `reader`'s last sample (its first: since the actors started)."""
        sample: TopologySample = self.keeper.ask(Sample(reader), block=True)
        return sample

    def forget(self, reader: str) -> None:
        self._report(ForgetReader(reader))

    def close(self) -> None:
        with contextlib.suppress(pykka.ActorDeadError):
            self.keeper.stop()


class _Reading:
    """What one reader (a feed sampling the topology) saw at its last sample, so the next one is a difference."""

    __slots__ = ("at", "callers", "handled", "pending", "pending_handled", "sent")

    def __init__(self) -> None:
        self.at = time.monotonic()
        self.sent: dict[str, dict[str, int]] = {}
        self.handled: dict[str, int] = {}
        self.callers: dict[str, int] = {}
        self.pending: dict[tuple[str, str], int] = {}
        self.pending_handled: dict[str, int] = {}


def simple_inbox() -> Any:
    """A C-level SimpleQueue: no Condition to take on every put and get (pykka's default is a queue.Queue)."""
    return queue.SimpleQueue()


class TopologyKeeper(pykka.ThreadingActor):
    """Owns the registry of actors, the notes on them, the counts of stopped ones and each reader's last sample.

    Takes Registered, Unregistered, Annotate, CallerCounts, Picture (answered
    with a TopologyPicture), Sample (answered with a TopologySample: the
    difference since that reader's last one) and ForgetReader.  A stopped
    actor's counts are folded by kind, so short-lived actors do not pile up;
    its last messages still reach every reader's next sample.
    """

    use_daemon_thread = True
    _create_actor_inbox = staticmethod(simple_inbox)

    def __init__(self) -> None:
        super().__init__()
        self.actors: dict[str, ActorInfo] = {}
        self.kinds: LRUCache[str, str] = LRUCache(maxsize=100_000)
        self.retired: dict[tuple[str, str], int] = {}
        self.notes: dict[str, str] = {}
        self.caller_counts: list[dict[str, int]] = []
        self.readings: dict[str, _Reading] = {}
        self.folded: frozenset[str] = frozenset()

    def on_receive(self, message: Any) -> Any:
        match message:
            case Registered(info):
                self.actors[info.urn] = info
                self.kinds[info.urn] = info.kind
            case Unregistered(urn):
                self.notes.pop(urn, None)
                if urn in self.actors:
                    info = self.actors.pop(urn)
                    self._retire(info)
                    for reading in self.readings.values():
                        self._settle(reading, info)
            case Annotate(urn, note):
                if urn in self.actors:
                    self.notes[urn] = note
            case CallerCounts(counts):
                self.caller_counts.append(counts)
            case Picture():
                edges = self._edges()
                graph = self._graph(edges)
                return TopologyPicture(tuple(self.actors.values()), edges, _dot(graph), graph)
            case Sample(reader):
                first = reader not in self.readings
                sample = self._sample(self.readings.setdefault(reader, _Reading()))
                if first:  # a baseline: everything since the actors started is no rate
                    nodes = tuple(attrs.evolve(node, handled=0) for node in sample.nodes)
                    sample = TopologySample(sample.at, sample.interval, nodes, ())
                return sample
            case ForgetReader(reader):
                self.readings.pop(reader, None)
            case _:
                raise TypeError(f"TopologyKeeper got an unexpected message {message!r}")
        return None

    # ----- samples (the live feed)

    def _node_id(self, info: ActorInfo) -> str:
        if info.kind in BY_PARENT and info.parent:
            return f"{info.kind}@{info.parent}"
        if info.kind in self.folded:
            return f"{info.kind}*"
        return info.urn

    def _label(self, info: ActorInfo, node_id: str) -> str:
        if node_id != info.urn:
            return info.kind
        note = self.notes.get(info.urn)
        name = info.name if len(info.name) <= 24 else info.name[:12] + "…"
        return f"{info.kind}\n{name}" + (f"\n{note}" if note else "")

    def _settle(self, reading: _Reading, info: ActorInfo) -> None:
        """A stopping actor's messages since the reader's last sample, kept for its next one."""
        source = self._node_id(info)
        last = reading.sent.pop(info.urn, {})
        for target, count in dict(info.sent).items():
            target_info = self.actors.get(target)
            delta = count - last.get(target, 0)
            if delta and target_info is not None:
                key = (source, self._node_id(target_info))
                reading.pending[key] = reading.pending.get(key, 0) + delta
        if info.gauge is not None:
            delta = info.gauge.handled - reading.handled.pop(info.urn, 0)
            reading.pending_handled[source] = reading.pending_handled.get(source, 0) + delta
        reading.callers.pop(info.urn, None)

    def _sample(self, reading: _Reading) -> TopologySample:
        infos = list(self.actors.values())
        by_kind: dict[str, int] = {}
        for info in infos:
            by_kind[info.kind] = by_kind.get(info.kind, 0) + 1
        self.folded = frozenset(kind for kind, n in by_kind.items() if n > MANY and kind not in BY_PARENT)
        node_of = {info.urn: self._node_id(info) for info in infos}
        nodes: dict[str, list[Any]] = {}  # id -> [kind, label, members, depth, busy, handled, group]
        edges: dict[tuple[str, str], int] = dict(reading.pending)
        for info in infos:
            node_id = node_of[info.urn]
            node = nodes.get(node_id)
            if node is None:
                group = node_of.get(info.parent) if info.parent and info.kind in BY_PARENT else None
                node = nodes[node_id] = [info.kind, self._label(info, node_id), 0, 0, 0,
                                         reading.pending_handled.get(node_id, 0), group]
            node[2] += 1
            gauge = info.gauge
            if gauge is not None:
                node[3] += gauge.inbox.qsize()
                node[4] += gauge.busy
                handled = gauge.handled
                node[5] += handled - reading.handled.get(info.urn, 0)
                reading.handled[info.urn] = handled
            sent = dict(info.sent)
            last = reading.sent.get(info.urn, {})
            for target, count in sent.items():
                delta = count - last.get(target, 0)
                target_node = node_of.get(target)
                if delta and target_node is not None:
                    key = (node_id, target_node)
                    edges[key] = edges.get(key, 0) + delta
            reading.sent[info.urn] = sent
            if info.kind not in BY_PARENT:
                told = sum(counts.get(info.urn, 0) for counts in self.caller_counts)
                delta = told - reading.callers.get(info.urn, 0)
                reading.callers[info.urn] = told
                if delta:
                    key = (CALLER, node_id)
                    edges[key] = edges.get(key, 0) + delta
        reading.pending = {}
        reading.pending_handled = {}
        now = time.monotonic()
        interval, reading.at = now - reading.at, now
        sampled = tuple(
            SampledNode(node_id, kind, label if members == 1 else f"{label} x{members}", members, depth, busy,
                        handled, group)
            for node_id, (kind, label, members, depth, busy, handled, group) in nodes.items()
        )
        return TopologySample(now, interval, sampled, tuple((a, b, n) for (a, b), n in edges.items() if n > 0))

    # ----- the picture (cumulative)

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

    def _graph(self, edges: list[tuple[str, str, int]]) -> TopologyGraph:
        infos = list(self.actors.values())
        by_kind: dict[str, int] = {}
        for info in infos:
            by_kind[info.kind] = by_kind.get(info.kind, 0) + 1
        many = {kind for kind, n in by_kind.items() if n > MANY}
        kinds: dict[str, tuple[str, int]] = {CALLER: (CALLER, 1)}

        def kind_node(kind: str) -> str:
            name = f"{kind} (x{by_kind[kind]})" if kind in many else f"{kind} (stopped)"
            kinds[name] = (kind, by_kind[kind] if kind in many else 0)
            return name

        def node(urn: str) -> str:
            if urn == CALLER:
                return CALLER
            info = self.actors.get(urn)
            if info is None:
                return kind_node(self.kinds.get(urn, "unknown"))
            if info.kind in many:
                return kind_node(info.kind)
            note = self.notes.get(urn)
            name = f"{info.kind}\\n{info.name}" + (f"\\n{note}" if note else "")
            kinds[name] = (info.kind, 1)
            return name

        weights: dict[tuple[str, str], int] = {}
        for source, target, count in edges:
            key = (node(source), node(target))
            weights[key] = weights.get(key, 0) + count
        for (source_kind, target_kind), count in self.retired.items():
            key = (kind_node(source_kind), kind_node(target_kind))
            weights[key] = weights.get(key, 0) + count
        names = {node(info.urn) for info in infos} | {CALLER} | {n for pair in weights for n in pair}
        nodes = tuple(GraphNode(name, *_kind_and_members(kinds, name)) for name in sorted(names))
        return TopologyGraph(nodes, tuple((a, b, n) for (a, b), n in sorted(weights.items())))


def _kind_and_members(kinds: dict[str, tuple[str, int]], name: str) -> tuple[str, str, int]:
    kind, members = kinds.get(name, ("unknown", 0))
    return kind, name.replace("\\n", "\n"), members


def _dot(graph: TopologyGraph) -> str:
    """Graphviz DOT of a picture; node names are their labels."""
    lines = ["digraph durable {", '  rankdir=LR; node [shape=box, fontname="Helvetica"];']
    lines += [f'  "{node.id}";' for node in graph.nodes]
    lines += [f'  "{a}" -> "{b}" [label="{n}"];' for a, b, n in graph.edges]
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
        self._track(topology, name, parent)

    def _track(self, topology: Topology, name: str, parent: str | None) -> None:
        self.topology = topology
        self.sent: dict[str, int] = {}
        self.gauge = ActorGauge(self.actor_inbox)
        self.topology.register(ActorInfo(self.actor_urn, type(self).__name__, name, parent, self.sent, self.gauge))

    _create_actor_inbox = staticmethod(simple_inbox)

    def send(self, ref: pykka.ActorRef[Any], message: Any) -> None:
        urn = ref.actor_urn
        self.sent[urn] = self.sent.get(urn, 0) + 1
        ref.tell(message)

    def on_receive(self, message: Any) -> Any:
        gauge = self.gauge
        gauge.busy = True
        try:
            return self.handle(message)
        except Exception:
            raise
        except BaseException as signal:
            logger.opt(exception=signal).error("{} swallowed a stray {}", type(self).__name__, type(signal).__name__)
            return None
        finally:
            gauge.handled += 1
            gauge.busy = False

    def handle(self, message: Any) -> Any:
        raise NotImplementedError

    def on_stop(self) -> None:
        self.topology.unregister(self.actor_urn)
