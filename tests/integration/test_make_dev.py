"""``make dev`` (``python -m devstack.dev``) from start to Ctrl-C: the API answers with the printed key,
the docs page is self-contained, and nothing it started outlives it."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from devstack.dev import DevPorts
from devstack.ports import free_ports
from devstack.seed import DEMO_FORWARD, DEMO_QUEUE, DEMO_USERS
from sync.settings import setting_names

CHROMIUM = Path("/usr/bin/chromium")  # Debian's, installed by `make setup`: no browser download
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output" / "console"

READY_TIMEOUT_S = 240.0  # Node, Dovecot, seeding and Test & Enable on a loaded 2-core runner
STOP_TIMEOUT_S = 60.0
REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass
class DevRun:
    process: subprocess.Popen[str]
    lines: queue.Queue[str | None] = field(default_factory=queue.Queue)
    seen: list[str] = field(default_factory=list)

    def wait_for(self, prefix: str, timeout: float = READY_TIMEOUT_S) -> str:
        """The first output line starting with ``prefix`` (fails with the output so far if it never comes)."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                break
            if line is None:
                break
            self.seen.append(line)
            if line.startswith(prefix):
                return line[len(prefix) :].strip()
        raise AssertionError(f"no line starting {prefix!r}; output so far:\n" + "\n".join(self.seen[-60:]))


def _pump(stream: object, lines: queue.Queue[str | None]) -> None:
    for line in stream:  # type: ignore[attr-defined]
        lines.put(line.rstrip("\n"))
    lines.put(None)


def _live_group_members(pgid: int) -> list[int]:
    """Pids of live (non-zombie) processes in a process group, from /proc."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields_ = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if int(fields_[2]) == pgid and fields_[0] not in ("Z", "X"):
            members.append(int(stat.parent.name))
    return members


@pytest.fixture
def dev_run(tmp_path: Path) -> Iterator[tuple[DevRun, DevPorts, Path]]:
    ports = DevPorts(*free_ports(len(fields(DevPorts))))
    settings_file = tmp_path / "local.settings.json"
    argv = [sys.executable, "-u", "-m", "devstack.dev", "--state-dir", str(tmp_path / "state")]
    argv += ["--settings-file", str(settings_file)]
    for port in fields(DevPorts):
        argv += [f"--{port.name}-port", str(getattr(ports, port.name))]
    env = {k: v for k, v in os.environ.items() if not any(k in names for names in setting_names().values())}
    process = subprocess.Popen(
        argv, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    run = DevRun(process)
    threading.Thread(target=_pump, args=(process.stdout, run.lines), daemon=True).start()
    try:
        yield run, ports, settings_file
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def _get(url: str, key: str | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers={"X-API-Key": key} if key else {})
    with urllib.request.urlopen(request, timeout=30) as response:
        return int(response.status), bytes(response.read())


def _console_opens_once(link: str, root: str) -> None:
    """The printed link signs headless Chromium in once and the grid shows the demo mailboxes; a second use fails."""
    assert link.startswith(f"{root}/console/signin/link?token=")
    with sync_playwright() as playwright:
        # --no-sandbox: tests run as root on CI, where Chromium refuses its sandbox
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            page = chromium.new_page(viewport={"width": 1280, "height": 900})
            page.goto(link)
            page.goto(f"{root}/console/mailboxes")
            assert page.url.endswith("/console/mailboxes")  # not sent to the sign-in page
            shown = set(page.locator('td[data-label="Address"]').all_inner_texts())
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOTS / "make-dev-mailboxes-1280.png"), full_page=True)
        finally:
            chromium.close()
    assert shown >= {*DEMO_USERS, DEMO_QUEUE[0], DEMO_FORWARD}
    with pytest.raises(urllib.error.HTTPError) as again:
        urllib.request.urlopen(link, timeout=30)
    assert again.value.code == 401


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_make_dev_serves_the_demo_and_stops_everything(
    dev_run: tuple[DevRun, DevPorts, Path], stop_signal: signal.Signals
) -> None:
    run, ports, settings_file = dev_run
    pids = [int(p) for p in run.wait_for("stack pids:").split()]
    api = run.wait_for("admin API:")
    key = run.wait_for("API key:")
    console = run.wait_for("console:")
    assert api == f"http://127.0.0.1:{ports.api}/api"
    deliver_hint = run.wait_for("deliver a test message:")
    assert f"--lmtp-port {ports.lmtp}" in deliver_hint

    status, body = _get(f"{api}/mailboxes", key)
    assert status == 200
    addresses = {item["email_address"] for item in json.loads(body)["items"]}
    assert addresses >= {*DEMO_USERS, DEMO_QUEUE[0], DEMO_FORWARD}
    status, body = _get(f"{api}/mailboxes/health", key)
    states = {item["name"]: {item[w] for w in ("incoming", "outgoing", "act")} for item in json.loads(body)["items"]}
    assert all(used <= {"healthy", "not_used"} for used in states.values()), states  # Test & Enable passed

    _console_opens_once(console, api.removesuffix("/api"))

    status, page = _get(f"{api}/docs")
    assert status == 200 and b"://" not in page
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css"):
        assert _get(f"{api}/docs/static/{asset}")[0] == 200

    written = json.loads(settings_file.read_text())
    assert written["Values"]["FUNCTIONS_WORKER_RUNTIME"] == "python"
    assert written["Host"]["LocalHttpPort"] == ports.api

    run.process.send_signal(stop_signal)
    assert run.process.wait(timeout=STOP_TIMEOUT_S) == 0
    for pid in pids:
        assert _live_group_members(pid) == [], f"process group {pid} outlived make dev"
    print("\n".join(run.seen))
