"""Browser tests: the app served by ``workbench app`` in a subprocess over a small fixture store, driven by
Playwright through Debian's Chromium (``/usr/bin/chromium``; Playwright's own browser build is not used).

Without Chromium the tests fail with a message that says how to install it; they skip only when
``WORKBENCH_SKIP_BROWSER=1`` asks for it explicitly. Screenshots of every page are saved under
``tests/e2e/artifacts/`` (CI keeps the folder).
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.e2e.fixture_store import INACTIVE_ID, TEAM_POLICY, fill_fixture
from workbench.store import RunStore

CHROMIUM = Path(os.environ.get("WORKBENCH_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
SERVER_START_S = 120


def _require_browser() -> None:
    if os.environ.get("WORKBENCH_SKIP_BROWSER") == "1":
        pytest.skip("WORKBENCH_SKIP_BROWSER=1: browser tests skipped on request")
    if not CHROMIUM.is_file():
        pytest.fail(f"{CHROMIUM} is missing: the browser tests drive Debian's Chromium. Install it with "
                    "`apt-get install -y chromium` (`make test` does), point WORKBENCH_CHROMIUM at another "
                    "Chromium, or set WORKBENCH_SKIP_BROWSER=1 to skip these tests on purpose.", pytrace=False)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def e2e_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A WORKBENCH_HOME with the fixture runs (made once per test session)."""
    _require_browser()
    home = tmp_path_factory.mktemp("e2e_home")
    previous = os.environ.get("WORKBENCH_HOME")
    os.environ["WORKBENCH_HOME"] = str(home)
    try:
        with RunStore.open(home) as store:
            fill_fixture(store)
    finally:
        if previous is None:
            os.environ.pop("WORKBENCH_HOME", None)
        else:
            os.environ["WORKBENCH_HOME"] = previous
    return home


@pytest.fixture(scope="session")
def run_ids(e2e_home: Path) -> dict[str, str]:
    """Run ids of the fixture by role: ``backtest``, ``baseline``, ``stress``, ``sweep``, ``policy``,
    ``team`` and ``inactive`` (the hand-made run of a policy that sits in cash)."""
    with RunStore.open(e2e_home) as store:
        infos = store.list_runs()
    by_role = {}
    for info in infos:
        if info.run_id == INACTIVE_ID:
            by_role["inactive"] = info.run_id
        elif info.kind == "backtest" and info.spec.get("policy"):
            by_role["team" if info.spec["policy"] == TEAM_POLICY else "policy"] = info.run_id
        elif info.kind == "backtest":
            by_role["backtest" if info.decider == "sma_cross" else "baseline"] = info.run_id
        else:
            by_role[info.kind] = info.run_id
    return by_role


@pytest.fixture(scope="session")
def server(e2e_home: Path):
    """Base URL of ``workbench app`` serving the fixture store on a free loopback port."""
    port = _free_port()
    env = {**os.environ, "WORKBENCH_HOME": str(e2e_home)}
    log = open(e2e_home / "server.log", "w")
    process = subprocess.Popen([sys.executable, "-m", "workbench.cli", "app", "--port", str(port)],
                               env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + SERVER_START_S
    while True:
        try:
            urllib.request.urlopen(f"{base}/runs", timeout=5).close()
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                log.close()
                pytest.fail(f"the app did not start:\n{(e2e_home / 'server.log').read_text()[-3000:]}")
            time.sleep(0.5)
    yield base
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
    log.close()


@pytest.fixture(scope="session")
def browser(server: str):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


CLIPPED_JS = """() => {
  const found = [];
  const limit = window.innerWidth + 2;
  const visit = (root) => {
    root.querySelectorAll('*').forEach(el => { if (el.shadowRoot) visit(el.shadowRoot); });
    root.querySelectorAll('.tabulator').forEach(t => {
      const box = t.getBoundingClientRect();
      if (box.width === 0) return;
      const cols = [...t.querySelectorAll('.tabulator-col')].filter(c => c.offsetParent !== null);
      const right = Math.max(0, ...cols.map(c => c.getBoundingClientRect().right));
      if (right > Math.min(box.right, limit) + 2) {
        found.push(t.className + ' right=' + Math.round(right) + ' box=' + Math.round(box.right));
      }
      cols.forEach(c => {  // a column title cut short (an ellipsis) hides what the column is
        const title = c.querySelector('.tabulator-col-title');
        if (title && title.innerText.trim() && title.scrollWidth > title.clientWidth + 1) {
          found.push(t.className + ' title cut: ' + title.innerText);
        }
      });
    });
  };
  visit(document);
  return found;
}"""


class WatchedPage:
    """A browser page that records console errors and uncaught exceptions."""

    def __init__(self, page) -> None:
        self.page = page
        self.errors: list[str] = []
        page.on("console", lambda message: self.errors.append(f"console: {message.text}")
                if message.type == "error" else None)
        page.on("pageerror", lambda error: self.errors.append(f"page error: {error}"))

    def screenshot(self, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def clipped_columns(self) -> list[str]:
        """Tables whose columns reach past their visible box or past the window (through Panel's shadow
        roots), as ``class right=.. box=..`` lines, and column titles cut short (``class title cut: ..``);
        [] when every column of every table is in view with its whole title."""
        return self.page.evaluate(CLIPPED_JS)


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1600, "height": 2200})
    watched = WatchedPage(context.new_page())
    watched.page.set_default_timeout(120_000)
    yield watched
    context.close()


@pytest.fixture
def screen(browser):
    """A page in a window of 1,600 x 1,000 pixels (the size the issue's pages were checked at)."""
    context = browser.new_context(viewport={"width": 1600, "height": 1000})
    watched = WatchedPage(context.new_page())
    watched.page.set_default_timeout(120_000)
    yield watched
    context.close()
