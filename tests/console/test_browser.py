"""The console in a real browser: Debian's headless Chromium driven by Selenium.

Outside CI these skip (with the reason) where Chromium or its driver is
missing; in CI (`CI` set) they fail instead, so a machine without the
browser cannot pass them by skipping.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from durable.console import ConsoleServer, serve_console
from durable.engine import Engine
from durable.stores.base import ExecutionStatus
from examples.timer_wave import handler as timer_wave
from tests.conftest import open_callback
from tests.console.browser import chromium, missing
from tests.workflows import approval

pytestmark = pytest.mark.timeout(120)

NODE_ROWS = "return Array.from(document.querySelectorAll('#node-rows tr')).map(function (r) { return r.innerText; })"


@pytest.fixture(scope="module")
def driver() -> Iterator[Any]:
    why = missing()
    if why is not None:
        if os.environ.get("CI"):
            pytest.fail(f"the browser tests must run in CI: {why}")
        pytest.skip(why)
    with chromium() as browser:
        yield browser


@pytest.fixture
def server(engine: Engine) -> Iterator[ConsoleServer]:
    engine.register(approval)
    engine.register(timer_wave.name, timer_wave, invocation_timeout=60)
    with serve_console(engine, feed_interval=0.25) as running:
        yield running


def eventually(check: Callable[[], Any], timeout: float, what: str, every: float = 0.1) -> Any:
    """Poll `check` (a read of the page) until it is truthy; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(every)


@pytest.fixture(autouse=True)
def fresh_log(driver: Any) -> None:
    driver.get_log("browser")  # read and so cleared: each test sees its own page's messages


def shown(driver: Any, css: str, timeout: float = 10) -> Any:
    """The element once the page that has it has loaded (a click returns before the next page arrives)."""
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout).until(expected_conditions.presence_of_element_located(("css selector", css)))


def _errors(driver: Any) -> list[str]:
    """Script errors and policy violations (a refused request the test meant to make is not one)."""
    return [
        entry["message"] for entry in driver.get_log("browser")
        if entry["level"] == "SEVERE" and "Failed to load resource" not in entry["message"]
    ]


def test_log_in_with_the_printed_link_open_an_execution_and_complete_its_callback(
    driver: Any, server: ConsoleServer, engine: Engine
) -> None:
    execution_id = engine.start("approval", {"report": "R-17"})
    open_callback(engine, execution_id)
    driver.get(server.url)
    assert driver.current_url.endswith("/console/executions")
    driver.find_element("css selector", f'a[href="/console/executions/{execution_id}"]').click()
    shown(driver, "svg.timeline")
    assert execution_id in driver.find_element("tag name", "h1").text
    driver.find_element("name", "result").send_keys('{"approved": true}')
    driver.find_element("css selector", "button.succeed").click()
    assert "The callback succeeded." in shown(driver, ".notice").text
    engine.wait(execution_id, timeout=10)

    def succeeded() -> bool:
        driver.refresh()
        return "SUCCEEDED" in driver.find_element("css selector", "dl.facts").text

    eventually(succeeded, 10, "the page to show the execution SUCCEEDED", every=0.3)
    assert '"approved": true' in driver.find_element("tag name", "main").text
    assert _errors(driver) == []


def test_a_second_completion_of_the_same_callback_is_refused_on_the_page(
    driver: Any, server: ConsoleServer, engine: Engine
) -> None:
    execution_id = engine.start("approval")
    open_callback(engine, execution_id)
    driver.get(server.url)
    driver.get(f"{server.base_url}/console/executions/{execution_id}")
    engine.send_callback_success(next(op.callback_id for op in engine.operations(execution_id) if op.callback_id))
    driver.find_element("css selector", "button.succeed").click()
    assert "already" in shown(driver, ".notice.error").text


def test_stop_asks_for_confirmation_with_keyboard_usable_buttons(
    driver: Any, server: ConsoleServer, engine: Engine
) -> None:
    execution_id = engine.start("approval")
    open_callback(engine, execution_id)
    driver.get(server.url)
    driver.get(f"{server.base_url}/console/executions/{execution_id}")
    driver.find_element("css selector", "button.danger").click()
    shown(driver, "form.confirm")
    confirm = driver.switch_to.active_element
    assert confirm.text == "Stop it", "the confirmation's button has the focus"
    confirm.send_keys("\n")
    eventually(lambda: engine.status(execution_id).status is ExecutionStatus.STOPPED, 10, "the stop")
    assert "Stopped." in shown(driver, ".notice").text


def test_the_topology_updates_while_a_300_branch_timer_wave_runs(
    driver: Any, server: ConsoleServer, engine: Engine
) -> None:
    driver.get(server.url)
    execution_id = engine.start(timer_wave.name, {"branches": 300, "keep": 10})
    driver.get(f"{server.base_url}/console/topology")
    graph = driver.find_element("id", "graph")
    seen: list[tuple[int, int]] = []
    branch_rows: set[str] = set()
    deadline = time.monotonic() + 25
    while time.monotonic() < deadline:
        seq = graph.get_attribute("data-seq")
        if seq and (not seen or int(seq) != seen[-1][0]):
            seen.append((int(seq), int(graph.get_attribute("data-messages") or 0)))
            branch_rows |= {row for row in driver.execute_script(NODE_ROWS) if row.startswith("Branch x301")}
        if len(seen) > 12 and len({m for _, m in seen}) > 3 and branch_rows:
            break
        time.sleep(0.1)
    engine.stop(execution_id)
    assert len(seen) > 12, f"the page updated {len(seen)} times"
    span = seen[-1][0] - seen[0][0]
    assert span >= 8, "at least twice a second"
    assert len({messages for _, messages in seen}) > 3, f"message counts did not change: {seen}"
    assert branch_rows, "the map's 301 branches as one node"
    assert driver.execute_script("return durableTopology.cy.nodes().length") >= 10
    driver.find_element("id", "pause").click()
    paused_at = graph.get_attribute("data-seq")
    driver.find_element("id", "back").click()
    driver.find_element("id", "back").click()
    assert int(graph.get_attribute("data-seq")) == int(paused_at) - 2
    time.sleep(0.6)
    assert int(graph.get_attribute("data-seq")) == int(paused_at) - 2, "paused: live frames do not move the view"
    assert _errors(driver) == []


def test_a_page_that_cannot_reach_the_server_says_so_and_retries(engine: Engine, driver: Any) -> None:
    engine.register(approval)
    server = serve_console(engine)
    try:
        driver.get(server.url)
        driver.get(f"{server.base_url}/console/topology")
        assert not driver.find_element("id", "offline").is_displayed()
    finally:
        server.stop()
    banner = driver.find_element("id", "offline")
    eventually(banner.is_displayed, 15, "the offline banner")
    assert "Cannot reach the server" in banner.text and "Retrying" in banner.text
