"""`durable`: run, start, inspect and resume durable executions from a shell.

Every failure a user can cause (a bad function name, input that is not JSON,
a store that cannot be opened) prints one `error:` line and exits non-zero;
no traceback reaches the terminal unless `-v` asks for detail.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType
from typing import Any

from loguru import logger

from durable.engine.history import format_table
from durable.engine.registry import resolve_function_spec
from durable.exceptions import DurableExecutionsError
from durable.execution import DurableHandler
from durable.lambda_service import OperationStatus, OperationType
from durable.stores import default_store_url, open_store
from durable.stores.base import ExecutionRecord, ExecutionStatus, Store, StoreError


class CliError(Exception):
    """A user-facing failure: printed as one line, exit status 2."""


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    logger.remove()
    if args.verbose:
        logger.enable("durable")
        logger.enable("actors")
        logger.add(sys.stderr, level="DEBUG")
    else:
        logger.add(sys.stderr, level="INFO", format="{level}: {message}", filter=lambda r: r["name"] is not None
                   and not r["name"].startswith(("durable", "actors")))
    try:
        return int(args.command(args))
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


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="durable", description="Durable executions on the embedded engine.")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logs on stderr")
    parser.add_argument("--store", default=None, help=f"store URL (default: $DURABLE_STORE or {default_store_url()})")
    sub = parser.add_subparsers(dest="name", required=True)

    run = sub.add_parser("run", help="run a function to completion and print its result")
    _function_args(run)
    _worker_args(run, "thread")
    run.add_argument("--viz", metavar="FILE", help="also write the actor topology (DOT) when done")
    run.set_defaults(command=cmd_run)

    start = sub.add_parser("start", help="record a new execution and print its id (`durable resume` runs it)")
    _function_args(start)
    start.set_defaults(command=cmd_start)

    status = sub.add_parser("status", help="show an execution, or with --engine the last engine's dispatch counters")
    status.add_argument("execution_id", nargs="?")
    status.add_argument("--engine", action="store_true",
                        help="the counters the last engine on this store kept (per worker: dispatched, requeued, "
                        "send latency)")
    status.add_argument("--json", action="store_true")
    status.set_defaults(command=cmd_status)

    history = sub.add_parser("history", help="show an execution's history")
    history.add_argument("execution_id")
    history.add_argument("--json", action="store_true", help="print the events as JSON")
    history.set_defaults(command=cmd_history)

    listing = sub.add_parser("list", help="list executions, newest first")
    listing.add_argument("--status", choices=[s.value for s in ExecutionStatus])
    listing.add_argument("--limit", type=int, default=50)
    listing.set_defaults(command=cmd_list)

    resume = sub.add_parser("resume", help="run every unfinished execution in the store until it ends")
    resume.add_argument("--timeout", type=float, default=None, help="give up after this many seconds")
    _worker_args(resume, "thread")
    resume.set_defaults(command=cmd_resume)

    serve = sub.add_parser("serve", help="serve the HTTP API (callbacks, executions) on this store")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1, this machine only)")
    serve.add_argument("--port", type=int, default=8765, help="port to listen on (default: 8765; 0: any free one)")
    serve.add_argument("--function", action="append", default=[], metavar="MODULE:FUNCTION",
                       help="register a function under its own name (repeatable)")
    _worker_args(serve, "process", dispatch=True)
    serve.set_defaults(command=cmd_serve)

    worker = sub.add_parser(
        "worker", help="run this store's executions (timers, retries, recovery) until stopped",
        description="Run every unfinished execution in the store and keep running: waits, retries and "
        "recovered invocations resume here as they come due. Handlers run in worker processes by default. "
        "Ctrl-C or SIGTERM stops it; what is left continues with the next engine on the store.",
    )
    worker.add_argument("--function", action="append", default=[], metavar="MODULE:FUNCTION",
                        help="register a function under its own name (repeatable)")
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
    callback.add_argument("callback_id")
    callback.add_argument("payload", nargs="?", default=None,
                          help="succeed: the result, as JSON; fail: an error object, as JSON")
    callback.add_argument("--wait", type=float, default=30.0, metavar="SECONDS",
                          help="run the woken execution here until it ends or waits again, at most this long "
                          "(default: 30; 0: return at once)")
    callback.set_defaults(command=cmd_callback)

    viz = sub.add_parser("viz", help="write the actor topology of the last engine run on this store")
    viz.add_argument("--out", required=True, help="FILE.dot, FILE.svg or FILE.png (SVG/PNG need Graphviz)")
    viz.set_defaults(command=cmd_viz)
    return parser


def _worker_args(parser: argparse.ArgumentParser, isolation: str, dispatch: bool = False) -> None:
    parser.add_argument("--isolation", choices=["thread", "process"], default=isolation,
                        help=f"run handlers on worker threads or in worker processes (default: {isolation})")
    parser.add_argument("--workers", type=int, default=4, help="how many invocations run at once (default: 4)")
    if dispatch:
        parser.add_argument("--dispatch-lock-timeout", type=_duration, default=0.25, metavar="DURATION",
                            help="how long an invocation waits for a busy worker before it is offered to "
                            "another one, as 250ms, 2s or seconds (default: 250ms)")


def _duration(text: str) -> float:
    """A command-line duration: `250ms`, `2s` or plain seconds."""
    number, unit = (text[:-2], 0.001) if text.endswith("ms") else (text.rstrip("s"), 1.0)
    try:
        value = float(number) * unit
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration (for example 250ms, 2s or 0.5)") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"a duration must be positive, got {text!r}")
    return value


def _engine_options(args: argparse.Namespace) -> dict[str, Any]:
    """The worker settings a command has flags for (`durable callback` has none: the defaults)."""
    names = ("isolation", "workers", "dispatch_lock_timeout")
    return {name: getattr(args, name) for name in names if hasattr(args, name)}


def _function_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("function", metavar="MODULE:FUNCTION", help="for example examples.hello:handler")
    parser.add_argument("--input", default="null", help="the execution input, as JSON (default: null)")
    parser.add_argument("--name", default=None, help="execution name: an idempotency key")
    parser.add_argument("--timeout", type=float, default=None, help="execution timeout in seconds")


def _load(args: argparse.Namespace) -> tuple[str, DurableHandler[Any], Any]:
    try:
        payload = json.loads(args.input)
    except ValueError as error:
        raise CliError(f"--input is not JSON ({error.args[0]}): {args.input!r}") from None
    try:
        handler = resolve_function_spec(args.function)
    except DurableExecutionsError as error:
        raise CliError(str(error)) from None
    if not isinstance(handler, DurableHandler):
        raise CliError(f"{args.function} is not decorated with @durable_execution")
    return args.function, handler, payload


def _open_store(args: argparse.Namespace, must_exist: bool = True) -> Store:
    url = args.store or default_store_url()
    if must_exist and url.startswith("sqlite:///") and not Path(url[len("sqlite:///"):]).exists():
        raise CliError(f"no store at {url[len('sqlite:///'):]} (run something first, or pass --store)")
    return open_store(url)


def _engine(args: argparse.Namespace) -> Any:
    from durable.engine import Engine

    return Engine(store=args.store or default_store_url(), **_engine_options(args))


def cmd_run(args: argparse.Namespace) -> int:
    name, handler, payload = _load(args)
    engine = _engine(args)
    try:
        engine.register(name, handler)
        execution_id = engine.start(name, payload, execution_name=args.name, execution_timeout=args.timeout)
        print(f"execution {execution_id}", file=sys.stderr)
        record = _follow(engine.store, [execution_id], engine)
        if args.viz:
            _write_viz(engine.topology_dot(), Path(args.viz))
    finally:
        engine.close()
    return _report(record[0])


def cmd_start(args: argparse.Namespace) -> int:
    name, _handler, payload = _load(args)
    from durable.engine import Engine

    try:
        engine = Engine(store=args.store or default_store_url(), workers=1, execute=False)
    except StoreError as error:
        raise CliError(f"{error} (if `durable serve` runs on it, start executions over its HTTP API: "
                       "POST /executions)") from None
    try:
        engine.register(name, _handler)
        execution_id = engine.start(name, payload, execution_name=args.name, execution_timeout=args.timeout)
    finally:
        engine.close()
    print(execution_id)
    return 0


def cmd_resume(args: argparse.Namespace) -> int:
    store = _open_store(args)
    pending = [r.execution_id for r in store.list_executions(ExecutionStatus.RUNNING, limit=1_000_000)]
    store.close()
    if not pending:
        print("nothing to resume", file=sys.stderr)
        return 0
    print(f"resuming {len(pending)} execution(s)", file=sys.stderr)
    engine = _engine(args)
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
    if args.engine:
        return _engine_status(store, args.json)
    if not args.execution_id:
        raise CliError("status needs an EXECUTION_ID, or --engine")
    record = store.get_execution(args.execution_id)
    if record is None:
        raise CliError(f"unknown execution {args.execution_id!r}")
    if args.json:
        print(json.dumps(_record_dict(record), indent=2))
        return 0
    for key, value in _record_dict(record).items():
        if value is not None:
            print(f"{key:>12}: {value}")
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


def _record_dict(record: ExecutionRecord) -> dict[str, Any]:
    return {
        "id": record.execution_id,
        "function": record.function_name,
        "name": record.name,
        "status": record.status.value,
        "invocations": record.invocations,
        "created": _when(record.created),
        "ended": _when(record.ended) if record.ended else None,
        "result": record.result,
        "error": record.error.to_dict() if record.error else None,
        "next alarm": _when(record.alarm) if record.alarm else None,
    }


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
    records = store.list_executions(status, args.limit)
    if not records:
        print("no executions", file=sys.stderr)
        return 0
    for record in records:
        print(f"{record.execution_id}  {record.status.value:<9}  {_when(record.created)}  {record.function_name}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    try:
        import uvicorn

        from durable.http_api import create_app
    except ImportError:
        raise CliError("durable serve needs the http extra: pip install 'durable[http]'") from None
    from durable.engine import Engine

    handlers = _resolve_specs(args.function)
    token = os.environ.get("DURABLE_API_TOKEN") or secrets.token_urlsafe(32)
    listener = _listen(args.host, args.port)
    try:
        engine = Engine(store=args.store or default_store_url(), **_engine_options(args))
    except BaseException:
        listener.close()
        raise
    # uvicorn stops gracefully on SIGTERM, then raises the signal again; as an interrupt (suppressed around
    # the server below) it ends here, with the engine closed, instead of killing the process.
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        _register(engine, handlers)
        shown = "from DURABLE_API_TOKEN" if os.environ.get("DURABLE_API_TOKEN") else token
        host, port = listener.getsockname()[:2]
        url = f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
        print(f"serving {url} on {engine.store.url}; bearer token: {shown}", file=sys.stderr)
        config = uvicorn.Config(create_app(engine, token), host=host, port=port,
                                log_level="info" if args.verbose else "warning")
        with contextlib.suppress(KeyboardInterrupt):
            uvicorn.Server(config).run(sockets=[listener])
        print("stopped serving; waiting executions continue with the next `durable serve` or `durable resume`",
              file=sys.stderr)
    finally:
        signal.signal(signal.SIGTERM, previous)
        listener.close()
        engine.close()
    return 0


def _resolve_specs(specs: list[str]) -> list[tuple[str, Any]]:
    handlers = []
    for spec in specs:
        try:
            handlers.append((spec, resolve_function_spec(spec)))
        except DurableExecutionsError as error:
            raise CliError(str(error)) from None
    return handlers


def _register(engine: Any, handlers: list[tuple[str, Any]]) -> None:
    """Each function under its MODULE:FUNCTION spec and under its own name."""
    for spec, handler in handlers:
        engine.register(spec, handler)
        engine.register(handler)


def cmd_worker(args: argparse.Namespace) -> int:
    from durable.engine import Engine

    handlers = _resolve_specs(args.function)
    engine = Engine(store=args.store or default_store_url(), **_engine_options(args))
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        _register(engine, handlers)
        print(f"working on {engine.store.url} with {args.workers} {args.isolation} worker(s); Ctrl-C to stop",
              file=sys.stderr)
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
            parsed = json.loads(payload)
        except ValueError as error:
            raise CliError(f"PAYLOAD is not JSON ({error.args[0]}): {payload!r}") from None
    if args.action == "fail" and payload is not None and not isinstance(parsed, dict):
        raise CliError("a failure's PAYLOAD must be a JSON object such as {\"ErrorType\": \"Rejected\"}")
    if args.wait < 0:
        raise CliError(f"--wait must be 0 or more seconds, got {args.wait}")
    _open_store(args).close()
    try:
        engine = _engine(args)
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
    store = _open_store(args)
    dot = store.get_meta("topology.dot")
    if dot is None:
        raise CliError("no topology recorded yet: run an execution on this store first")
    _write_viz(dot, Path(args.out))
    return 0


def _write_viz(dot: str, out: Path) -> None:
    fmt = out.suffix.lstrip(".").lower()
    if fmt in ("", "dot", "gv"):
        out.write_text(dot)
    elif fmt in ("svg", "png"):
        binary = shutil.which("dot")
        if binary is None:
            fallback = out.with_suffix(".dot")
            fallback.write_text(dot)
            raise CliError(f"Graphviz `dot` is not installed; wrote DOT to {fallback} instead")
        subprocess.run([binary, f"-T{fmt}", "-o", str(out)], input=dot.encode(), check=True)
    else:
        raise CliError(f"unknown output format {out.suffix!r}: use .dot, .svg or .png")
    print(f"wrote {out}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
