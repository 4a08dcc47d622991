"""`make screenshots`: a PNG of each console page in docs/screenshots/, from a demo engine in a temporary store.

    python -m tests.console.screenshots [--out docs/screenshots]

The demo: a few finished executions (one retried, one stopped), an approval waiting on its
callback, and a 300-branch timer wave running while the topology page is
taken (light and dark).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from durable.console import serve_console
from durable.engine import Engine
from examples.hello import handler as hello
from examples.retries import handler as retries
from examples.timer_wave import handler as timer_wave
from tests.conftest import open_callback
from tests.console.browser import chromium, missing
from tests.workflows import approval


def _shoot(driver: Any, url: str, out: Path, settle: float = 0.3) -> None:
    driver.get(url)
    time.sleep(settle)
    height = driver.execute_script("return Math.min(document.documentElement.scrollHeight, 2400)")
    driver.set_window_size(1400, max(800, int(height)))
    time.sleep(settle)
    driver.save_screenshot(str(out))
    driver.set_window_size(1400, 1000)
    print(f"wrote {out}", file=sys.stderr)


def _topology(driver: Any, base_url: str, out: Path) -> None:
    """The topology page paused on a frame with messages flowing (the wave's polls come every 2 s)."""
    driver.get(f"{base_url}/console/topology")
    deadline = time.monotonic() + 10
    graph = driver.find_element("id", "graph")
    while int(graph.get_attribute("data-messages") or 0) < 50 and time.monotonic() < deadline:
        time.sleep(0.05)
    driver.find_element("id", "pause").click()
    time.sleep(0.5)
    driver.save_screenshot(str(out))
    print(f"wrote {out}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default="docs/screenshots")
    args = parser.parse_args(argv)
    why = missing()
    if why is not None:
        print(f"error: {why}", file=sys.stderr)
        return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder, Engine(store=f"sqlite:///{Path(folder) / 'demo.db'}") as engine:
        for handler in (hello, approval, retries):
            engine.register(handler)
        engine.register(timer_wave.name, timer_wave, invocation_timeout=60)
        for name in ("ana", "ben", "chloe"):
            engine.wait(engine.start(hello.name, name, execution_name=f"greet-{name}"), timeout=30)
        flaky = engine.start(retries.name, {"fail_times": 2}, execution_name="flaky-service")
        engine.stop(engine.start(approval.name, {"report": "R-16"}, execution_name="expense-R-16"))
        engine.wait(flaky, timeout=30)
        waiting = engine.start(approval.name, {"report": "R-17", "amount": 420}, execution_name="expense-R-17")
        open_callback(engine, waiting)
        with serve_console(engine) as server:
            with chromium() as driver:
                driver.get(f"{server.base_url}/console/login")
                driver.save_screenshot(str(out / "login.png"))
                driver.get(server.url)
                _shoot(driver, f"{server.base_url}/console/executions", out / "executions.png")
                _shoot(driver, f"{server.base_url}/console/executions/{waiting}", out / "execution-callback.png")
                _shoot(driver, f"{server.base_url}/console/executions/{flaky}", out / "execution-retries.png")
                wave = engine.start(timer_wave.name, {"branches": 300, "keep": 30}, execution_name="timer-wave")
                time.sleep(5)
                _shoot(driver, f"{server.base_url}/console/executions/{wave}", out / "execution-timeline.png")
                _topology(driver, server.base_url, out / "topology.png")
            with chromium(dark=True) as driver:
                driver.get(server.url)
                _topology(driver, server.base_url, out / "topology-dark.png")
                _shoot(driver, f"{server.base_url}/console/executions/{waiting}", out / "execution-dark.png")
        engine.stop(wave)
    return 0


if __name__ == "__main__":
    sys.exit(main())
