"""Pooled actors: many actors, each with its own mailbox and state, run on a bounded set of threads.

A pykka `ThreadingActor` costs an OS thread; a map of 10,000 branches cannot
have 10,000 threads.  A `PooledActor` has a normal pykka mailbox, ref, tell,
ask and lifecycle, but no thread of its own: a message arriving wakes it onto
an `ActorPool`'s ready queue, and one of the pool's threads drains its
mailbox.  An actor waiting for a message holds no thread at all.

At most one pool thread drains an actor at a time.  The claim is a token in
a `queue.SimpleQueue` of the actor's own: whoever takes it (`get_nowait`)
drains, and puts it back when done.  SimpleQueue is thread-safe by its own
contract, not by the GIL.  The drainer re-checks the mailbox after giving the
claim back, so a message that arrives during the hand-over is never stranded.

pykka's extension points for an actor type are used as its ThreadingActor
uses them: `_create_future` and `_start_actor_loop`, with
`_actor_loop_setup` and `_handle_receive` for pykka's own messages.  A
pooled actor sets the four fields pykka's `Actor.__init__` would (urn,
inbox, stopped flag, ref) with lighter objects of its own, and a told
message goes in its mailbox bare: only an ask needs pykka's envelope.
"""

from __future__ import annotations

import collections
import contextlib
import itertools
import os
import queue
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any, ClassVar

import pykka
from loguru import logger
from pykka import ActorDeadError, ThreadingFuture
from pykka._envelope import Envelope
from pykka.messages import ProxyCall, ProxyGetAttr, ProxySetAttr, _ActorStop

from actors.topology import Topology, TrackedActor

_CLAIM = object()
#: numbers pooled actors' urns (`urn:durable:<pid>:<n>`), as uuid4 would at the price of a system call
_SERIALS = itertools.count(1)
#: pykka's own messages (stop, proxy calls): the only ones its `_handle_receive` does not pass to `on_receive`
_PYKKA_MESSAGES = frozenset({_ActorStop, ProxyCall, ProxyGetAttr, ProxySetAttr})


class _ThreadWaits(threading.local):
    """Per thread: the pool it serves, whether it is kept free of inline work, and what it lends
    (`about_to_wait`); class attributes are every thread's defaults, so reading one costs no getattr."""

    pool: ActorPool | None = None
    kept_free = False
    #: inside `about_to_wait`, and how many blocks deep past the outermost
    open = False
    nested = 0
    borrower: BorrowingActor | None = None


_thread_waits = _ThreadWaits()


#: an extra thread (added while the pool was starved, or standing in for a waiting one) retires after this idle
IDLE_RETIRE_SECONDS = 5.0
#: how often a pool's watcher looks whether work waits while no thread takes any
WATCH_SECONDS = 0.02
#: an idle pool's watcher looks this seldom, unless work arrives
DOZE_SECONDS = 1.0
#: work has waited with no thread taking any for this long: the pool is starved and grows
STARVED_SECONDS = 0.05
#: threads added per look while starved
GROWTH = 16
#: a process busy computing for this share of a core is not starved, only slow: more threads would not help
BUSY_SHARE = 0.5
#: nesting depths the pool tells apart (deeper ones share the last queue)
DEPTHS = 8


class ActorPool:
    """Daemon threads running whichever pooled actors have mail: `size` of them, more while they are all held.

    A thread may be held up by the actor it runs: a map branch waits on a
    nested map's branches, or on its user code (a long call, a barrier with
    its sibling branches).  Two things keep the pool from starving then:

    - a pool thread about to wait on work this pool must do calls
      `stand_in` first, which starts another thread at once;
    - a watcher thread (`elastic`) looks every WATCH_SECONDS; when work has
      waited STARVED_SECONDS, no thread took any and the process computed
      less than BUSY_SHARE of a core meanwhile (its threads wait, they do not
      work), it adds up to GROWTH threads per look.  A look that itself came
      late (the whole process was held up, by a collector pass say) is no
      evidence and grows nothing.

    Threads added either way retire after IDLE_RETIRE_SECONDS without work,
    so the pool settles back to `size`.  Progress is counted on an
    `itertools.count`, whose `next` is atomic, so no thread writes state
    another owns.
    """

    def __init__(self, size: int = 64, name: str = "durable-pool", elastic: bool = True) -> None:
        self.size = size
        self.name = name
        #: actors with mail, one queue per nesting depth, deepest served first (`schedule`)
        self.levels: tuple[collections.deque[PooledActor], ...] = tuple(collections.deque() for _ in range(DEPTHS))
        #: one token per scheduled actor (None: the pool shuts down, a thread leaves); threads sleep here
        self.ready: queue.SimpleQueue[bool | None] = queue.SimpleQueue()
        self._taken = itertools.count()
        #: threads that went to wait for work, and that came back: their difference is the idle threads
        self._waiting, self._woken = itertools.count(), itertools.count()
        self._extras = itertools.count(1)
        #: one token per stand-in whose wait is over: an extra thread takes one and leaves (core threads never do)
        self._retiring: queue.SimpleQueue[None] = queue.SimpleQueue()
        #: what the watcher sleeps on: True to stop it, False to wake it from a doze (work came to an idle pool)
        self._watcher_mail: queue.SimpleQueue[bool] = queue.SimpleQueue()
        #: set by the watcher while it dozes: the pool was idle at its last look
        self._watcher_dozing = False
        for i in range(size):
            self._thread(f"{name}-{i}", extra=False)
        if elastic:
            threading.Thread(target=self._watch, name=f"{name}-watch", daemon=True).start()

    def _thread(self, name: str, extra: bool) -> None:
        threading.Thread(target=self._run, args=(extra,), name=name, daemon=True).start()

    def _add_thread(self) -> None:
        self._thread(f"{self.name}-extra-{next(self._extras)}", extra=True)

    def _run(self, extra: bool) -> None:
        _thread_waits.pool = self
        taken = self._taken
        idle = IDLE_RETIRE_SECONDS if extra else None
        levels = self.levels[::-1]
        waiting, woken = self._waiting, self._woken
        while True:
            next(waiting)
            try:
                token = self.ready.get(timeout=idle)
            except queue.Empty:
                return
            finally:
                next(woken)
            if token is None:
                return
            next(taken)
            for level in levels:
                if level:
                    try:
                        actor = level.popleft()
                    except IndexError:  # another thread took it first (it holds a token of its own)
                        continue
                    actor._drain()
                    break
            if extra and not self._retiring.empty():
                try:
                    self._retiring.get_nowait()
                    return
                except queue.Empty:
                    pass

    def _watch(self) -> None:
        looked, seen, spent = time.monotonic(), next(self._taken), time.process_time()
        starved_since: float | None = None
        sleep = WATCH_SECONDS
        while True:
            try:
                if self._watcher_mail.get(timeout=sleep):
                    return
            except queue.Empty:
                pass
            self._watcher_dozing = False
            now, count, cpu = time.monotonic(), next(self._taken), time.process_time()
            progressed, late = count - seen > 1, now - looked > 2 * WATCH_SECONDS
            computing = cpu - spent > BUSY_SHARE * (now - looked)
            looked, seen, spent = now, count, cpu
            waiting = self.ready.qsize()
            sleep = WATCH_SECONDS
            if not progressed and not waiting:
                self._watcher_dozing = True  # before looking again: work scheduled after the look wakes us
                if not self.ready.qsize():
                    sleep = DOZE_SECONDS
            if progressed or late or computing or not waiting:
                starved_since = None
            elif starved_since is None:
                starved_since = now
            elif now - starved_since >= STARVED_SECONDS:
                logger.debug("{}: {} actors waited {:.0f} ms with every thread held; adding threads",
                             self.name, waiting, (now - starved_since) * 1000)
                for _ in range(min(waiting, GROWTH)):
                    self._add_thread()

    @contextlib.contextmanager
    def stand_in(self) -> Iterator[None]:
        """While the block runs, one more thread serves this pool if the caller is one of its threads."""
        if _thread_waits.pool is not self or next(self._waiting) - next(self._woken) > 0:
            yield  # not a pool thread, or a thread of the pool is idle and takes the work (deepest first)
            return
        self._add_thread()
        try:
            yield
        finally:
            self._retiring.put(None)  # one extra thread leaves once it is done with what it runs

    def schedule(self, actor: PooledActor) -> None:
        """Queue `actor` to be drained: the deeper its nesting, the sooner (a nested batch's branches before
        more of the outer batch's, whose threads would only wait on theirs)."""
        self.levels[min(actor.depth, DEPTHS - 1)].append(actor)
        self.ready.put(True)
        if self._watcher_dozing:
            self._watcher_dozing = False
            self._watcher_mail.put(False)

    def shutdown(self) -> None:
        self._watcher_mail.put(True)
        for _ in range(self.size):
            self.ready.put(None)


class _PoolInbox(queue.SimpleQueue[Any]):
    """A mailbox that wakes its actor onto the pool when a message arrives."""

    owner: PooledActor | None = None

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        _enqueue(self, item)
        if self.owner is not None:
            self.owner._wake()


#: SimpleQueue's own put, called directly where a message is posted (no `super()` object per message)
_enqueue = queue.SimpleQueue.put


class StopFlag:
    """A pooled actor's `actor_stopped`: what pykka and the pool ask of it (`set`, `is_set`), as one object."""

    __slots__ = ("stopped",)

    def __init__(self) -> None:
        #: read directly where mail is handled: a method call per message counted in a wave of resumes
        self.stopped = False

    def set(self) -> None:
        self.stopped = True

    def is_set(self) -> bool:
        return self.stopped


class PooledRef(pykka.ActorRef[Any]):
    """The ref of a pooled actor: `tell` posts the bare message, since nobody waits for an answer to it.

    An ask still goes in an envelope with its future; the actor tells the two
    apart by type.  A wave of ten thousand resumes sends several messages per
    resume, so an object less per message counts.
    """

    def tell(self, message: Any) -> None:
        if self.actor_stopped.stopped:  # type: ignore[attr-defined]
            raise ActorDeadError(f"{self} not found")
        self.actor_inbox.put(message)


class PooledActor(TrackedActor):
    """A TrackedActor whose mailbox is drained on an ActorPool instead of its own thread.

    It stays out of pykka's ActorRegistry: the registry is a list, so each
    stop scans it, and a map's ten thousand branches made that quadratic.
    Whoever starts a pooled actor keeps its ref and stops it.
    """

    #: how deeply nested the work it does is (a map branch inside a map branch: 2); the pool serves deeper first
    depth = 0

    @classmethod
    def start(cls, *args: Any, **kwargs: Any) -> pykka.ActorRef[Any]:
        actor = cls(*args, **kwargs)
        actor._start_actor_loop()
        return actor.actor_ref

    def _stop(self) -> None:
        """Stopped for good; the mailbox lets go of the actor, so the two are freed when the last ref goes
        rather than by the collector (a map's ten thousand finished branches were a full pass's garbage)."""
        self.actor_stopped.set()
        try:
            self.on_stop()
        except Exception:
            self._handle_failure(*sys.exc_info())
        finally:
            self.actor_inbox.owner = None  # type: ignore[attr-defined]

    def __init__(self, topology: Topology, pool: ActorPool, name: str, parent: str | None = None) -> None:
        self.pool = pool
        self._claim_token: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._claim_token.put(_CLAIM)
        # What pykka's Actor.__init__ sets, lighter: a map's branches are thousands of actors, and an Event
        # (a Condition, its lock, a deque and bound methods) per actor was a fifth of what the collector walked.
        self.actor_urn = f"urn:durable:{os.getpid()}:{next(_SERIALS)}"
        self.actor_inbox = _PoolInbox()
        self.actor_stopped = StopFlag()  # type: ignore[assignment]
        self._actor_ref = PooledRef(self)
        self._track(topology, name, parent)

    @staticmethod
    def _create_future() -> ThreadingFuture[Any]:
        return ThreadingFuture()

    def _start_actor_loop(self) -> None:
        self._actor_loop_setup()
        inbox: _PoolInbox = self.actor_inbox  # type: ignore[assignment]
        inbox.owner = self
        if not inbox.empty():
            self._wake()

    def _claim(self) -> bool:
        try:
            self._claim_token.get_nowait()
        except queue.Empty:
            return False
        return True

    def _wake(self) -> None:
        if self._claim():
            self.pool.schedule(self)

    def _drain(self, limit: int | None = None) -> None:
        """Handle mail until the mailbox is empty; past `limit` messages, leave the rest to the pool."""
        inbox: _PoolInbox = self.actor_inbox  # type: ignore[assignment]
        flag: StopFlag = self.actor_stopped  # type: ignore[assignment]
        handled = 0
        while True:
            while not flag.stopped:
                if inbox.empty():  # the claim makes this thread the only reader: no race, no Empty raised
                    break
                if limit is not None and handled >= limit:
                    self.pool.schedule(self)
                    return
                self._process(inbox.get_nowait())
                handled += 1
            if flag.stopped:
                self._fail_leftovers(inbox)
                return
            self._claim_token.put(_CLAIM)
            if inbox.empty() or not self._claim():
                return

    def _process(self, item: Any) -> None:
        """Handle one item of mail: a told message as it was sent, or an asked one in its envelope."""
        if type(item) is Envelope:
            message, reply_to = item.message, item.reply_to
        else:
            message, reply_to = item, None
        try:
            handler = self._handle_receive if type(message) in _PYKKA_MESSAGES else self.on_receive
            response = handler(message)
            if reply_to is not None:
                reply_to.set(response)
        except Exception:
            if reply_to is not None:
                reply_to.set_exception()
            else:
                logger.opt(exception=sys.exc_info()[1]).error("{} failed on {!r}", self, message)

    def _fail_leftovers(self, inbox: _PoolInbox) -> None:
        while not inbox.empty():
            envelope = inbox.get_nowait()
            if type(envelope) is not Envelope or envelope.reply_to is None:
                continue
            error = ActorDeadError(f"{self.actor_ref} stopped before handling the message")
            envelope.reply_to.set_exception(exc_info=(ActorDeadError, error, None))


class InlineActor(PooledActor):
    """A pooled actor that the sending thread runs at once when it is idle.

    A thread that tells it a message and finds it idle takes the claim and
    handles the message itself, before `tell` returns: an ask from a handler
    thread is answered without waking any other thread, and a checkpoint
    reaches the writer with one hand-off instead of two.  Still one message at
    a time, in mailbox order, by whoever holds the claim; a busy actor's mail
    is handled by its current holder, which drains until the mailbox is empty.
    It never waits for a pool thread, so it cannot be starved by a pool whose
    threads all wait on it.  Its handlers must not block.

    A thread that must stay free for its own job (the Ticker, a process
    link: see `keep_this_thread_free`) hands the actor to its pool instead
    when `pooled_from_kept_threads` says it may: only an actor that no pool
    thread ever waits on, or the pool could be starved of the thread to run it.
    """

    pooled_from_kept_threads: ClassVar[bool] = False

    def _wake(self) -> None:
        if self._claim():
            if self.pooled_from_kept_threads and _thread_waits.kept_free:
                self.pool.schedule(self)
            else:
                self._drain()


def keep_this_thread_free() -> None:
    """Never run an InlineActor's handlers on the calling thread from here on.

    For a thread whose own job must not wait behind other actors' work: the
    Ticker (a tick must not run a wave's refresh), or a link that relays
    messages and answers between processes (an inline handler that asked
    across the link would wait on the very thread that carries the answer).
    """
    _thread_waits.kept_free = True


class _AboutToWait:
    """The block `about_to_wait` opens: one object for every thread, since what it keeps is the thread's."""

    def __enter__(self) -> None:
        waits = _thread_waits
        if waits.open:
            waits.nested += 1
        else:
            waits.open = True
            waits.borrower = None

    def __exit__(self, *exc_info: object) -> None:
        waits = _thread_waits
        if waits.nested:
            waits.nested -= 1
            return
        borrower = waits.borrower
        waits.open = False
        waits.borrower = None
        if borrower is not None:
            borrower._drain(borrower.turn)


_ABOUT_TO_WAIT = _AboutToWait()


def about_to_wait() -> _AboutToWait:
    """Mark this thread, for the block, as one that will only wait for an answer after its sends.

    The first BorrowingActor it wakes inside the block is lent this thread:
    its claim is taken at once and its mail handled when the block ends, once
    every inline actor this thread drained meanwhile has let go (a commit never
    holds up another thread's lookup).  Nested blocks lend through the outer one.
    A plain object rather than a generator: a step enters two of these.
    """
    return _ABOUT_TO_WAIT


class BorrowingActor(PooledActor):
    """A pooled actor that a waiting sender, finding it idle, runs for one short turn on its own thread.

    For an actor whose work is brief and usually one request at a time (the
    CheckpointWriter's commit of one step): the request of a sender inside
    `about_to_wait` costs no hand-off at all, and its answer is ready when the
    block ends.  Any other sender (an actor with other mail to serve, the
    Ticker) never lends its thread, so a slow commit cannot stall it; nor does
    a waiting sender lend it twice, so what it drains for others is grouped on
    the actor's own pool.  The turn ends after `turn` messages; mail still
    waiting then goes to that pool, so a backlog never holds a sender for long.
    One message at a time, in mailbox order, as always.
    """

    turn = 8

    def _wake(self) -> None:
        if self._claim():
            if _thread_waits.open and _thread_waits.borrower is None:
                _thread_waits.borrower = self
            else:
                self.pool.schedule(self)


def stop_quietly(ref: pykka.ActorRef[Any]) -> None:
    """Stop an actor that may already be gone."""
    with contextlib.suppress(ActorDeadError):
        ref.stop(block=False)
