"""`durable`: run, start, inspect and resume durable executions from a shell.

Every failure a user can cause (a bad function name, input that is not JSON,
a store that cannot be opened) prints one `error:` line and exits non-zero;
no traceback reaches the terminal unless `-v` asks for detail.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import secrets
import signal
import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

from loguru import logger

from durable.core.history import format_table
from durable.core.records import OperationStatus, OperationType
from durable.engine.registry import resolve_function_source
from durable.exceptions import DurableExecutionsError
from durable.execution import as_durable_handler
from durable.limits import LIST_LIMIT, check_name, check_seconds, check_text, check_token, parse_count, parse_json
from durable.stores import default_store_url, open_store
from durable.stores.base import ExecutionRecord, ExecutionStatus, Store, StoreError


class CliError(Exception):
    """A user-facing failure: printed as one line, exit status 2."""


def main(argv: list[str] | None = None) -> int:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(AttributeError, ValueError):
            stream.reconfigure(errors="backslashreplace")  # type: ignore[union-attr]
    parser = _parser()
    args = parser.parse_args(argv)
    logger.remove()
    if args.verbose:
        logger.enable("durable")
        logger.enable("actors")
        logger.add(sys.stderr, level="DEBUG")
    else:
        logger.enable("durable.http_api")  # one line per refused slow client, a traceback per server fault
        logger.enable("durable.plugin")  # a plugin that raised or hung
        logger.enable("actors.cluster_member")  # engines that took over others' work or lost their lease
        logger.add(sys.stderr, level="INFO", format="{level}: {message}", filter=_quiet)
    if getattr(args, "store", None) is not None and not args.store.strip():
        print("error: --store is empty (a path, sqlite:///path or postgresql://...)", file=sys.stderr)
        return 2
    try:
        return int(args.command(args))
    except BrokenPipeError:
        # the reader went away (`durable list | head`): stop quietly, as command-line tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (CliError, StoreError, DurableExecutionsError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except Exception as error:
        if args.verbose:
            raise
        print(f"error: unexpected {type(error).__name__}: {error} (run with -v for details)", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted; the execution is saved and continues with `durable resume`", file=sys.stderr)
        return 130


def _quiet(record: Any) -> bool:
    """Without -v: the user's own logs, the HTTP API's refusals, plugin failures and engines' takeovers and
    lost leases; not the runtime's detail."""
    name = record["name"] or ""
    if name.startswith(("durable.http_api", "durable.plugin", "actors.cluster_member")):
        return True
    return not name.startswith(("durable", "actors"))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="durable", description="Durable executions on the embedded engine.")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logs on stderr")
    parser.add_argument("--store", default=None, help=f"store URL (default: $DURABLE_STORE or {default_store_url()})")
    sub = parser.add_subparsers(dest="name", required=True)

    run = sub.add_parser("run", help="run a function to completion and print its result")
    _function_args(run)
    _worker_args(run, "thread")
    run.add_argument("--viz", metavar="FILE", help="also write the actor topology when done (.svg, .html or .dot)")
    run.set_defaults(command=cmd_run)

    start = sub.add_parser("start", help="record a new execution and print its id (`durable resume` runs it)")
    _function_args(start)
    start.set_defaults(command=cmd_start)

    status = sub.add_parser("status", help="show an execution, or with --engine the last engine's dispatch counters")
    status.add_argument("execution_id", nargs="?", type=_text("EXECUTION_ID"))
    status.add_argument("--engines", action="store_true",
                        help="on a postgresql:// store: the engines that share it, their leases and heartbeats")
    status.add_argument("--engine", action="store_true",
                        help="the counters the last engine on this store kept (per worker: dispatched, requeued, "
                        "send latency)")
    status.add_argument("--json", action="store_true")
    status.set_defaults(command=cmd_status)

    history = sub.add_parser("history", help="show an execution's history")
    history.add_argument("execution_id", type=_text("EXECUTION_ID"))
    history.add_argument("--json", action="store_true", help="print the events as JSON")
    history.set_defaults(command=cmd_history)

    listing = sub.add_parser("list", help="list executions, newest first")
    listing.add_argument("--status", choices=[s.value for s in ExecutionStatus])
    listing.add_argument("--limit", type=_count("--limit", 1, LIST_LIMIT), default=50,
                         help=f"how many, from 1 to {LIST_LIMIT:,} (default: 50)")
    listing.set_defaults(command=cmd_list)

    resume = sub.add_parser("resume", help="run every unfinished execution in the store until it ends")
    resume.add_argument("--timeout", type=_seconds("--timeout"), default=None, help="give up after this many seconds")
    _worker_args(resume, "thread")
    resume.set_defaults(command=cmd_resume)

    serve = sub.add_parser("serve", help="serve the HTTP API (callbacks, executions) on this store")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1, this machine only)")
    serve.add_argument("--port", type=_count("--port", 0, 65535), default=8765,
                       help="port to listen on (default: 8765; 0: any free one)")
    _function_sources(serve)
    serve.add_argument("--body-timeout", type=_duration, default=10.0, metavar="DURATION",
                       help="how long a request body may take to arrive before the answer is 408 (default: 10s)")
    serve.add_argument("--max-connections", type=_count("--max-connections", 1, 65535), default=2048,
                       help="requests in flight before the answer is 503 (default: 2048; open connections: twice that)")
    _worker_args(serve, "process", dispatch=True)
    serve.set_defaults(command=cmd_serve)

    worker = sub.add_parser(
        "worker", help="run this store's executions (timers, retries, recovery) until stopped",
        description="Run every unfinished execution in the store and keep running: waits, retries and "
        "recovered invocations resume here as they come due. Handlers run in worker processes by default. "
        "Ctrl-C or SIGTERM stops it; what is left continues with the next engine on the store.",
    )
    _function_sources(worker)
    worker.add_argument("--progress", type=_duration, default=5.0, metavar="SECONDS",
                        help="print the counters this often when they change (default: 5)")
    _worker_args(worker, "process", dispatch=True)
    worker.set_defaults(command=cmd_worker)

    callback = sub.add_parser(
        "callback", help="complete a callback: succeed, fail or heartbeat",
        description="Complete a callback on this store. The completion is stored at once; the woken execution "
        "then runs here until it ends or waits again, for at most --wait seconds (after that, or with --wait 0, "
        "it continues in the next engine on the store: `durable resume`, `durable serve`). While `durable serve` "
        "holds the store, send the callback over HTTP instead (POST /callbacks/ID/succeed).",
    )
    callback.add_argument("action", choices=["succeed", "fail", "heartbeat"])
    callback.add_argument("callback_id", type=_text("CALLBACK_ID"))
    callback.add_argument("payload", nargs="?", default=None,
                          help="succeed: the result, as JSON; fail: an error object, as JSON")
    callback.add_argument("--wait", type=_wait_seconds, default=30.0, metavar="SECONDS",
                          help="run the woken execution here until it ends or waits again, at most this long "
                          "(default: 30; 0: return at once)")
    callback.set_defaults(command=cmd_callback)

    viz = sub.add_parser("viz", help="write the actor topology of the last engine run on this store")
    viz.add_argument("--out", required=True,
                     help="FILE.svg (a drawing), FILE.html (an interactive page, one file) or FILE.dot (Graphviz)")
    viz.set_defaults(command=cmd_viz)
    return parser


def _worker_args(parser: argparse.ArgumentParser, isolation: str, dispatch: bool = False) -> None:
    parser.add_argument("--isolation", choices=["thread", "process"], default=isolation,
                        help=f"run handlers on worker threads or in worker processes (default: {isolation})")
    parser.add_argument("--workers", type=_count("--workers", 1, MAX_WORKERS), default=4,
                        help=f"how many invocations run at once, 1 to {MAX_WORKERS} (default: 4)")
    if dispatch:
        parser.add_argument("--dispatch-lock-timeout", type=_duration, default=0.25, metavar="DURATION",
                            help="how long an invocation waits for a busy worker before it is offered to "
                            "another one, as 250ms, 2s or seconds (default: 250ms)")
        parser.add_argument("--lease", dest="lease_seconds", type=_duration, default=10.0, metavar="DURATION",
                            help="on a postgresql:// store: how long this engine may miss heartbeats before the "
                            "others declare it dead and take its executions over (default: 10s)")


MAX_WORKERS = 256
MAX_DURATION = 86400.0


def _duration(text: str) -> float:
    """A command-line duration: `250ms`, `2s` or plain seconds, more than 0 and at most a day."""
    number, unit = (text[:-2], 0.001) if text.endswith("ms") else (text.removesuffix("s"), 1.0)
    try:
        value = float(number) * unit
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration (for example 250ms, 2s or 0.5)") from None
    if not (math.isfinite(value) and 0 < value <= MAX_DURATION):
        raise argparse.ArgumentTypeError(f"a duration must be more than 0 and at most a day, got {text!r}")
    return value


def _wait_seconds(text: str) -> float:
    """`--wait`: 0 (do not wait) up to an hour."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not (math.isfinite(value) and 0 <= value <= 3600):
        raise argparse.ArgumentTypeError(f"--wait must be from 0 to 3600 seconds, got {text!r}")
    return value


def _seconds(what: str) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            return check_seconds(float(text), what)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{what} must be a number of seconds, got {text!r}") from None
        except DurableExecutionsError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    return parse


def _count(what: str, low: int, high: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            return parse_count(text, what, low, high)
        except DurableExecutionsError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    return parse


def _text(what: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        try:
            return check_text(text, what)
        except DurableExecutionsError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    return parse


def _execution_name(text: str) -> str:
    try:
        return check_name(text, "--name")
    except DurableExecutionsError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _function_sources(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--function", action="append", default=[], metavar="MODULE:FUNCTION|MODULE",
        help="register a function (MODULE:FUNCTION) or every @durable_execution handler of a MODULE; repeatable. "
        "Also read from $DURABLE_FUNCTIONS (comma-separated). Only registered functions can be started or invoked.",
    )


def _engine_options(args: argparse.Namespace) -> dict[str, Any]:
    """The worker settings a command has flags for (`durable callback` has none: the defaults)."""
    names = ("isolation", "workers", "dispatch_lock_timeout", "lease_seconds")
    return {name: getattr(args, name) for name in names if hasattr(args, name)}


def _function_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("function", metavar="MODULE:FUNCTION",
                        help="for example examples.hello:handler (the durable handlers beside it are registered too)")
    parser.add_argument("--function", dest="also", action="append", default=[], metavar="MODULE:FUNCTION|MODULE",
                        help="register more functions for context.invoke (repeatable)")
    parser.add_argument("--input", default="null", help="the execution input, as JSON (default: null)")
    parser.add_argument("--name", type=_execution_name, default=None, help="execution name: an idempotency key")
    parser.add_argument("--timeout", type=_seconds("--timeout"), default=None,
                        help="execution timeout in seconds (at most a year)")


def _load(args: argparse.Namespace) -> tuple[str, list[tuple[str, Any]], Any]:
    """The function to run, what to register (it, its neighbours, --function), and the input."""
    try:
        payload = parse_json(args.input, "--input")
    except DurableExecutionsError as error:
        raise CliError(str(error)) from None
    if ":" not in args.function:
        raise CliError(f"{args.function!r} is not MODULE:FUNCTION (for example examples.hello:handler)")
    handlers = _resolve_sources([args.function, *args.also])
    return handlers[0][0], handlers, payload


def _open_store(args: argparse.Namespace, must_exist: bool = True) -> Store:
    url = args.store or default_store_url()
    if must_exist and url.startswith("sqlite:///") and not Path(url[len("sqlite:///"):]).exists():
        raise CliError(f"no store at {url[len('sqlite:///'):]} (run something first, or pass --store)")
    return open_store(url)


def _engine(args: argparse.Namespace, handlers: list[tuple[str, Any]], **options: Any) -> Any:
    """An engine with `handlers` registered before it recovers anything (a recovered execution runs at once)."""
    from durable.engine import Engine

    return Engine(store=args.store or default_store_url(), functions=_named(handlers),
                  **{**_engine_options(args), **options})


def cmd_run(args: argparse.Namespace) -> int:
    name, handlers, payload = _load(args)
    fmt = _viz_target(Path(args.viz)) if args.viz else None
    engine = _engine(args, handlers)
    try:
        execution_id = engine.start(name, payload, execution_name=args.name, execution_timeout=args.timeout)
        print(f"execution {execution_id}", file=sys.stderr)
        record = _follow(engine.store, [execution_id], engine)
        if fmt is not None:
            picture = engine.topology_picture()
            _write_viz(picture.dot, picture.graph.to_dict(), Path(args.viz), fmt)
    finally:
        engine.close()
    return _report(record[0])


def cmd_start(args: argparse.Namespace) -> int:
    name, handlers, payload = _load(args)
    try:
        engine = _engine(args, handlers, workers=1, execute=False)
    except StoreError as error:
        raise CliError(f"{error} (if `durable serve` runs on it, start executions over its HTTP API: "
                       "POST /executions)") from None
    try:
        execution_id = engine.start(name, payload, execution_name=args.name, execution_timeout=args.timeout)
    finally:
        engine.close()
    print(execution_id)
    return 0


def cmd_resume(args: argparse.Namespace) -> int:
    store = _open_store(args)
    try:
        running = store.list_executions(ExecutionStatus.RUNNING, limit=1_000_000)
    finally:
        store.close()
    pending = [r.execution_id for r in running]
    if not pending:
        print("nothing to resume", file=sys.stderr)
        return 0
    print(f"resuming {len(pending)} execution(s)", file=sys.stderr)
    engine = _engine(args, _stored_functions(running))
    try:
        records = _follow(engine.store, pending, engine, args.timeout)
    finally:
        engine.close()
    for record in records:
        print(f"{record.execution_id}  {record.status.value}  {record.result or ''}")
    return 0 if all(r.status is ExecutionStatus.SUCCEEDED for r in records) else 1


def _follow(store: Store, execution_ids: list[str], engine: Any, timeout: float | None = None) -> list[ExecutionRecord]:
    """Wait for the executions to end, drawing one live progress line on stderr."""
    deadline = None if timeout is None else time.monotonic() + timeout
    live = sys.stderr.isatty()
    last = ""
    while True:
        records = [store.get_execution(eid) for eid in execution_ids]
        done = [r for r in records if r is not None and r.status.is_terminal]
        line = _progress(store, records) if len(records) == 1 else f"{len(done)}/{len(records)} executions ended"
        if line != last:
            print(("\r\033[K" if live else "") + line, end="" if live else "\n", file=sys.stderr, flush=True)
            last = line
        if len(done) == len(records):
            if live:
                print(file=sys.stderr)
            return [r for r in records if r is not None]
        if deadline is not None and time.monotonic() > deadline:
            raise CliError(f"gave up after {timeout} s; {len(records) - len(done)} execution(s) still running")
        _await_any(engine, [r.execution_id for r in records if r is not None and not r.status.is_terminal])


def _await_any(engine: Any, running: list[str]) -> None:
    """Block until the first running execution ends, or 0.2 s pass (the progress line's refresh)."""
    with contextlib.suppress(TimeoutError):
        engine.wait(running[0], timeout=0.2)


def _progress(store: Store, records: list[ExecutionRecord | None]) -> str:
    record = records[0]
    if record is None:
        return "unknown execution"
    ops = store.load_operations(record.execution_id)
    finished = sum(1 for op in ops if op.status.is_terminal)
    waiting = ""
    now = time.time()
    for op in ops:
        if op.operation_type is OperationType.WAIT and op.status is OperationStatus.STARTED:
            left = max(0.0, (op.scheduled_end_timestamp or now) - now)
            waiting = f"waiting on wait {op.name or op.operation_id} ({left:.0f} s left)"
        elif op.operation_type is OperationType.CALLBACK and op.status is OperationStatus.STARTED:
            waiting = f"waiting on callback {op.name or op.operation_id}"
        elif op.operation_type is OperationType.CHAINED_INVOKE and op.status is OperationStatus.STARTED:
            waiting = f"waiting on invoke {op.name or op.operation_id}"
        elif op.operation_type is OperationType.STEP and op.status is OperationStatus.PENDING:
            left = max(0.0, (op.next_attempt_timestamp or now) - now)
            waiting = f"step {op.name or op.operation_id} retries in {left:.0f} s"
    state = record.status.value.lower() if record.status.is_terminal else (waiting or "running")
    return f"invocation {record.invocations} | {finished}/{len(ops)} operations done | {state}"


def _report(record: ExecutionRecord) -> int:
    if record.status is ExecutionStatus.SUCCEEDED:
        print(record.result)
        return 0
    message = f" {record.error.type}: {record.error.message}" if record.error else ""
    print(f"execution {record.execution_id} {record.status.value}:{message}", file=sys.stderr)
    return 1


def cmd_status(args: argparse.Namespace) -> int:
    store = _open_store(args)
    if args.engines:
        return _engines_status(store, args.json)
    if args.engine:
        return _engine_status(store, args.json)
    if not args.execution_id:
        raise CliError("status needs an EXECUTION_ID, or --engine, or --engines")
    record = store.get_execution(args.execution_id)
    if record is None:
        raise CliError(f"unknown execution {args.execution_id!r}")
    if args.json:
        print(json.dumps(record.to_dict(), indent=2))
        return 0
    shown = record.to_dict()
    for key in ("created", "ended"):
        shown[key] = _when(shown[key]) if shown[key] else None
    shown["next alarm"] = _when(record.alarm) if record.alarm else None
    for key, value in shown.items():
        if value is not None:
            print(f"{key:>19}: {value}")
    return 0


def _engine_status(store: Store, as_json: bool) -> int:
    saved = store.get_meta("engine.stats")
    if saved is None:
        raise CliError("no engine counters recorded yet: they are kept when an engine on this store closes")
    stats = json.loads(saved)
    if as_json:
        print(json.dumps(stats, indent=2))
        return 0
    for key in ("dispatched", "requeued", "fenced", "replaced_workers", "replaced_processes", "transactions"):
        print(f"{key:>18}: {stats.get(key)}")
    print(f"{'worker':<12} {'dispatched':>10} {'requeued':>8} {'send p50 ms':>11} {'send p99 ms':>11}")
    for name, worker in stats.get("per_worker", {}).items():
        print(f"{name:<12} {worker['dispatched']:>10} {worker['requeued']:>8} "
              f"{worker['send_p50_ms'] or '-':>11} {worker['send_p99_ms'] or '-':>11}")
    return 0


def _engines_status(store: Store, as_json: bool) -> int:
    if not store.shared:
        raise CliError(f"--engines lists the engines sharing a postgresql:// store; {store.url} has one engine at most")
    engines = store.engines()  # type: ignore[attr-defined]
    if as_json:
        print(json.dumps(engines, indent=2))
        return 0
    print(f"{'engine':<40} {'state':<8} {'epoch':>5} {'owns':>6} {'lease left s':>12} {'last heartbeat':<19}")
    for engine in engines:
        print(f"{engine['engine_id']:<40} {engine['state']:<8} {engine['epoch']:>5} {engine['owns']:>6} "
              f"{max(engine['lease_left_s'], 0):>12} {_when(engine['heartbeat'])}")
    return 0


def _when(value: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(value))


def cmd_history(args: argparse.Namespace) -> int:
    store = _open_store(args)
    if store.get_execution(args.execution_id) is None:
        raise CliError(f"unknown execution {args.execution_id!r}")
    events = store.history(args.execution_id)
    print(json.dumps(events, indent=2) if args.json else format_table(events))
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    store = _open_store(args)
    status = ExecutionStatus(args.status) if args.status else None
    records = store.list_executions(status, args.limit + 1)
    if not records:
        print("no executions", file=sys.stderr)
        return 0
    for record in records[:args.limit]:
        print(f"{record.execution_id}  {record.status.value:<9}  {_when(record.created)}  {record.function_name}")
    if len(records) > args.limit:
        print(f"the newest {args.limit:,} shown; more exist (--limit N shows more)", file=sys.stderr)
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    try:
        from durable.console import create_console_app
        from durable.http_api import ServerLimits, server_config
    except ImportError:
        raise CliError("durable serve needs the http extra: pip install 'durable[http]'") from None

    handlers = _resolve_sources(args.function)
    given = os.environ.get("DURABLE_API_TOKEN")
    try:
        token = check_token(given) if given is not None else secrets.token_urlsafe(32)
    except DurableExecutionsError as error:
        raise CliError(f"DURABLE_API_TOKEN: {error}") from None
    listener = _listen(args.host, args.port)
    try:
        engine = _engine(args, handlers)
    except BaseException:
        listener.close()
        raise
    # uvicorn stops gracefully on SIGTERM, then raises the signal again; as an interrupt (suppressed around
    # the server below) it ends here, with the engine closed, instead of killing the process.
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        shown = "from DURABLE_API_TOKEN" if given is not None else token
        host, port = listener.getsockname()[:2]
        url = f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
        functions = ", ".join(engine.registry.names()) or "none: starts are refused"
        limits = ServerLimits(body_timeout=args.body_timeout, max_connections=args.max_connections)
        console = create_console_app(engine, token, limits.body_timeout)
        print(f"serving {url} on {engine.store.url}; bearer token: {shown}; functions: {functions}",
              file=sys.stderr)
        print(f"console: {console.login_url(url)}", file=sys.stderr, flush=True)
        config = server_config(console.app, host, port, limits, "info" if args.verbose else "warning")
        try:
            with contextlib.suppress(KeyboardInterrupt):
                console.server(config).run(sockets=[listener])
        finally:
            console.close()
        print("stopped serving; waiting executions continue with the next `durable serve` or `durable resume`",
              file=sys.stderr)
    finally:
        signal.signal(signal.SIGTERM, previous)
        listener.close()
        engine.close()
    return 0


def _resolve_sources(sources: list[str]) -> list[tuple[str, Any]]:
    """The functions named on the command line and in $DURABLE_FUNCTIONS, imported now, at start-up."""
    named = [*sources, *(part.strip() for part in os.environ.get("DURABLE_FUNCTIONS", "").split(","))]
    handlers: dict[str, Any] = {}
    for source in filter(None, named):
        try:
            handlers.update((name, h) for name, h in resolve_function_source(source) if name not in handlers)
        except DurableExecutionsError as error:
            raise CliError(str(error)) from None
    return list(handlers.items())


def _named(handlers: list[tuple[str, Any]]) -> dict[str, Any]:
    """Each function under its MODULE:FUNCTION spec and, if durable, under its own name too.

    A bare name two different functions share is left out: which one it meant would depend on the order
    of the command line, and a stored execution would replay with another function's code after a restart.
    """
    named: dict[str, Any] = dict(handlers)
    bare: dict[str, list[tuple[str, Any]]] = {}
    for spec, handler in handlers:
        durable = as_durable_handler(handler)
        if durable is not None and durable.name not in named:
            bare.setdefault(durable.name, []).append((spec, handler))
    for name, claims in bare.items():
        if len({id(handler) for _, handler in claims}) == 1:
            named[name] = claims[0][1]
        else:
            specs = " and ".join(spec for spec, _ in claims)
            print(f"warning: {name!r} names {specs}; start them by MODULE:FUNCTION", file=sys.stderr)
    return named


def _stored_functions(records: list[ExecutionRecord]) -> list[tuple[str, Any]]:
    """What `resume` and `callback` run: the MODULE:FUNCTION names the stored executions were started with.

    The operator's command names the store, and an API client can only store
    registered names, so these imports are the operator's choice.
    """
    handlers: dict[str, Any] = {}
    for name in sorted({record.function_name for record in records if ":" in record.function_name}):
        with contextlib.suppress(DurableExecutionsError):
            handlers.update(resolve_function_source(name))
    return list(handlers.items())


def cmd_worker(args: argparse.Namespace) -> int:
    handlers = _resolve_sources(args.function)
    engine = _engine(args, handlers)
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        functions = ", ".join(engine.registry.names()) or "none (name them with --function)"
        print(f"working on {engine.store.url} with {args.workers} {args.isolation} worker(s), functions: "
              f"{functions}; Ctrl-C to stop", file=sys.stderr)
        last = ""
        with contextlib.suppress(KeyboardInterrupt):
            while True:
                stats = engine.stats()
                line = (f"{stats['dispatched']} dispatched, {stats['running']} running, {stats['queued']} queued, "
                        f"{stats['requeued']} requeued, {stats['replaced_processes']} worker processes replaced")
                if line != last:
                    print(line, file=sys.stderr, flush=True)
                    last = line
                time.sleep(args.progress)
        print("stopped; unfinished executions continue with the next engine on this store", file=sys.stderr)
    finally:
        signal.signal(signal.SIGTERM, previous)
        engine.close()
    return 0


def _listen(host: str, port: int) -> socket.socket:
    """The API's socket, bound before the store is opened: a taken port or a bad host is one error line."""
    if not 0 <= port <= 65535:
        raise CliError(f"--port must be from 0 to 65535, got {port}")
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except OSError as error:
        raise CliError(f"cannot listen on {host!r}: {error.strerror or error}") from None
    listener = socket.socket(family, kind, proto)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(address)
    except OSError as error:
        listener.close()
        raise CliError(f"cannot listen on {host}:{port}: {error.strerror or error}") from None
    return listener


def _interrupt(signum: int, frame: FrameType | None) -> None:
    """SIGTERM stops the server as Ctrl-C does, so the engine is closed before the process ends."""
    raise KeyboardInterrupt


def cmd_callback(args: argparse.Namespace) -> int:
    payload = args.payload
    if payload is not None:
        try:
            parsed = parse_json(payload, "PAYLOAD")
        except DurableExecutionsError as error:
            raise CliError(str(error)) from None
    if args.action == "fail" and payload is not None and not isinstance(parsed, dict):
        raise CliError("a failure's PAYLOAD must be a JSON object such as {\"ErrorType\": \"Rejected\"}")
    store = _open_store(args)
    try:
        running = store.list_executions(ExecutionStatus.RUNNING, limit=1_000_000)
    finally:
        store.close()
    try:
        engine = _engine(args, _stored_functions(running))
    except StoreError as error:
        raise CliError(f"{error} (if `durable serve` runs on it, POST the callback to its HTTP API)") from None
    try:
        execution_id = engine.callback_ids.open(args.callback_id)[0]
        record = engine.store.get_execution(execution_id)
        if args.action == "succeed":
            engine.send_callback_success(args.callback_id, payload)
        elif args.action == "fail":
            engine.send_callback_failure(args.callback_id, parsed if payload is not None else None)
        else:
            engine.send_callback_heartbeat(args.callback_id)
        if args.action == "heartbeat":
            outcome = "the callback stays open"
        elif args.wait == 0:
            outcome = f"execution {execution_id} continues at the next `durable resume` or `durable serve`"
        else:
            outcome = _await_settled(engine, execution_id, record.invocations if record else 0, args.wait)
    finally:
        engine.close()
    print(f"callback {args.action}: done; {outcome}", file=sys.stderr)
    return 0


def _await_settled(engine: Any, execution_id: str, invocations_before: int, timeout: float) -> str:
    """Let the woken execution run until it ends, or an invocation after the completion leaves it waiting again."""
    deadline = time.monotonic() + timeout
    function = engine.status(execution_id).function_name
    if engine.registry.get(function) is None:
        return (f"execution {execution_id} runs {function!r}, which cannot be imported here; it continues in an "
                f"engine that registers it (`durable serve --function MODULE:FUNCTION`)")
    while True:
        record = engine.status(execution_id)
        stats = engine.stats()
        idle = stats["idle"]  # nothing running, queued, offered to a worker or backing off
        if record.status.is_terminal and idle:
            return f"execution {execution_id} {record.status.value}"
        if record.invocations > invocations_before and not record.invocation_open and idle:
            return f"execution {execution_id} is waiting again"
        if time.monotonic() > deadline:
            return f"execution {execution_id} still running after {timeout:g} s; `durable resume` continues it"
        with contextlib.suppress(TimeoutError):
            engine.wait(execution_id, timeout=0.05)


def cmd_viz(args: argparse.Namespace) -> int:
    fmt = _viz_target(Path(args.out))
    store = _open_store(args)
    try:
        dot = store.get_meta("topology.dot")
        graph = store.get_meta("topology.json")
    finally:
        store.close()
    if dot is None:
        raise CliError("no topology recorded yet: run an execution on this store first")
    _write_viz(dot, json.loads(graph) if graph else None, Path(args.out), fmt)
    return 0


#: a drawing's file suffix -> what is written there
_VIZ_FORMATS = {"": "dot", ".dot": "dot", ".gv": "dot", ".svg": "svg", ".html": "html", ".htm": "html"}


def _viz_target(out: Path) -> str:
    """The format a drawing goes to `out` in; CliError, before any work is done, if it cannot be written there."""
    fmt = _VIZ_FORMATS.get(out.suffix.lower())
    if fmt is None:
        raise CliError(f"unknown output format {out.suffix!r}: use .svg, .html or .dot")
    if out.is_dir():
        raise CliError(f"cannot write {out}: it is a directory ({out})")
    if not out.parent.is_dir():
        raise CliError(f"cannot write {out}: no such directory ({out.parent})")
    if not os.access(out.parent, os.W_OK):
        raise CliError(f"cannot write {out}: permission denied ({out.parent})")
    return fmt


def _write_viz(dot: str, graph: dict[str, Any] | None, out: Path, fmt: str) -> None:
    """DOT as recorded; SVG and HTML drawn here (no Graphviz needed) from the graph, or from the DOT; `fmt` is
    what `_viz_target` said of `out`."""
    from durable.viz import graph_from_dot, render_html, render_svg

    drawn = graph if graph is not None else graph_from_dot(dot)
    if fmt == "dot":
        text = dot
    elif fmt == "svg":
        text = render_svg(drawn)
    else:
        text = render_html(drawn)
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as error:
        raise CliError(f"cannot write {out}: {error.strerror or error}") from None
    print(f"wrote {out}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
