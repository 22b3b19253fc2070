"""The console's world: the demo organization on its own tables, a mailbox with a wrong password, the admin app
(with the console) served by uvicorn on a loopback port, and sign-in links for each role.

Everything is session-scoped: seeding and Test & Enable run once for every console test.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formataddr, make_msgid
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, Page, ViewportSize, sync_playwright

from devstack import Dovecot, SmtpServer, TestCA, free_port
from devstack.errors import MissingDependencyError
from devstack.ports import LOOPBACK, wait_for_port
from devstack.seed import mail_accounts
from devstack.seed_api import seed_through_api
from sync.api.app import create_app
from sync.api.auth import ADMIN_ROLE, API_KEY_HEADER, APPROVER_ROLE, READER_ROLE, new_api_key
from sync.auth.secrets import SecretBox
from sync.console.local_link import link_url
from sync.console.services import ConsoleServices
from sync.incoming.worker import MailboxWorker
from sync.mail import egress
from sync.model.fields import utcnow
from sync.scheduling.scheduler import Scheduler
from sync.services import incoming_connectors
from sync.settings import Settings
from sync.store import Store
from tests.conftest import TEST_EGRESS
from tests.stack_fixtures import MAIL_PASSWORD

ADMIN_KEY, ADMIN_DIGEST = new_api_key()
WRONG_PASSWORD_ADDRESS = "wrong-password@example.test"
HOSTILE_INBOX = "mallory@example.test"
QUARANTINE_INBOX = "quentin@example.test"
HOSTILE_NAME = '<img src=x onerror="window.hacked=1"> Mallory'
HOSTILE_SUBJECT = '<script>window.hacked=1</script> Quote & "offer"'
HOSTILE_SENDER_NAME = "<b onmouseover=window.hacked=1>Stranger</b>"
ADMINISTRATOR = frozenset({ADMIN_ROLE, APPROVER_ROLE, READER_ROLE})
READER = frozenset({READER_ROLE})
STARTUP_TIMEOUT_S = 30.0


@dataclass
class ConsoleWorld:
    settings: Settings
    store: Store
    app: FastAPI
    mailboxes: dict[str, str]  # address -> mailbox id
    dovecot: Dovecot | None = None
    base_url: str = ""
    admin_key: str = ADMIN_KEY
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def console(self) -> ConsoleServices:
        services: ConsoleServices = self.app.state.console
        return services

    def link(self, roles: frozenset[str] = ADMINISTRATOR, name: str = "Ada Admin") -> str:
        """A fresh one-time sign-in link, as ``make dev`` prints one."""
        token = self.console.sessions.mint_link(f"local:{uuid.uuid4().hex[:8]}", name, roles)
        return link_url(self.base_url, token)

    def api(self) -> TestClient:
        return TestClient(self.app, headers={API_KEY_HEADER: self.admin_key})


@pytest.fixture(scope="session")
def console_mail(stack_dir: Path, test_ca: TestCA) -> Iterator[tuple[Dovecot, SmtpServer]]:
    """The console's own Dovecot and SMTP server: Test & Enable mails each mailbox, and the demo addresses are
    the same as other tests' users, whose inboxes those tests count."""
    accounts = {
        **mail_accounts(),
        **dict.fromkeys((WRONG_PASSWORD_ADDRESS, HOSTILE_INBOX, QUARANTINE_INBOX), MAIL_PASSWORD),
    }
    with (
        Dovecot(stack_dir / "console-dovecot", test_ca, accounts) as dovecot,
        SmtpServer(test_ca, accounts, relay_to_lmtp=(dovecot.host, dovecot.lmtp_port)) as smtp,
    ):
        yield dovecot, smtp


@pytest.fixture(scope="session")
def console_world(settings: Settings, test_ca: TestCA, console_mail: tuple[Dovecot, SmtpServer]) -> ConsoleWorld:
    """The demo organization, Test & Enable run on every mailbox; a user whose password is wrong; a user whose
    name is markup and who received, and did not track, an email whose subject and sender name are markup."""
    dovecot, smtp = console_mail
    egress.configure(TEST_EGRESS)  # session fixtures run before the per-test fixture that sets it
    own = settings.model_copy(
        update={
            "storage_prefix": "c" + uuid.uuid4().hex[:8],
            "api_keys": f"{ADMIN_DIGEST}:admin+approver",
            "extra_ca_file": str(test_ca.ca_cert),
        }
    )
    store = Store.from_settings(own)
    store.account.ensure_created()
    world = ConsoleWorld(own, store, create_app(own, lambda: store), {}, dovecot=dovecot)
    with world.api() as api:
        ids = seed_through_api(api, mail_host="localhost", imap_port=dovecot.imaps_port, smtp_port=smtp.submission_port)
        world.mailboxes.update(ids["mailboxes"])
        world.mailboxes[WRONG_PASSWORD_ADDRESS] = _user(api, "Walter Wrong", WRONG_PASSWORD_ADDRESS, "not-the-password")
        world.mailboxes[HOSTILE_INBOX] = _user(api, HOSTILE_NAME, HOSTILE_INBOX, MAIL_PASSWORD)
        for mailbox_id in world.mailboxes.values():
            assert api.post(f"/api/mailboxes/{mailbox_id}/test-and-enable").status_code == 200
    _receive_hostile_email(world, dovecot)
    return world


def add_user(world: ConsoleWorld, name: str, address: str) -> str:
    """One more user with a tested mailbox, on the console's own mail servers; returns the mailbox id."""
    with world.api() as api:
        mailbox_id = _user(api, name, address, MAIL_PASSWORD)
        assert api.post(f"/api/mailboxes/{mailbox_id}/test-and-enable").json()["succeeded"]
    world.mailboxes[address] = mailbox_id
    return mailbox_id


def run_cycle(world: ConsoleWorld, mailbox_id: str, settings: Settings | None = None) -> None:
    """One real incoming cycle of the mailbox: the scheduler's claim, then the worker, as the triggers run them."""
    store, settings = world.store, settings or world.settings
    mailbox = store.get_mailbox(mailbox_id)
    item = Scheduler(store, settings, lambda item: None).claim(
        mailbox, store.find_profile(mailbox.email_server_profile_id or ""), utcnow()
    )
    MailboxWorker(store, settings, SecretBox(settings.aes_key()), incoming_connectors()).run(item)


def _user(api: TestClient, name: str, address: str, password: str) -> str:
    """A user whose mailbox is approved and has credentials; returns the mailbox id."""
    user = api.post("/api/users", json={"full_name": name, "internal_email_address": address})
    assert user.status_code == 201, user.text
    mailbox_id = str(user.json()["default_mailbox_id"])
    assert api.post(f"/api/mailboxes/{mailbox_id}/approve").status_code == 200
    changes = {"username": address, "password": password, "allow_credentials_for_email_processing": True}
    assert api.patch(f"/api/mailboxes/{mailbox_id}", json=changes).status_code == 200
    return mailbox_id


def _receive_hostile_email(world: ConsoleWorld, dovecot: Dovecot) -> None:
    """Mail from a stranger (not tracked: the user tracks replies to CRM email), through a real incoming cycle."""
    message = EmailMessage()
    message["From"] = formataddr((HOSTILE_SENDER_NAME, "stranger@elsewhere.test"))
    message["To"] = HOSTILE_INBOX
    message["Subject"] = HOSTILE_SUBJECT
    message["Message-ID"] = make_msgid(domain="elsewhere.test")
    message.set_content("Not for the CRM.")
    dovecot.deliver(HOSTILE_INBOX, message.as_bytes())
    run_cycle(world, world.mailboxes[HOSTILE_INBOX])
    subjects = [f.subject for f in world.store.item_failures.partition(world.mailboxes[HOSTILE_INBOX])]
    assert HOSTILE_SUBJECT in subjects, subjects


@pytest.fixture(scope="session")
def console_server(console_world: ConsoleWorld) -> Iterator[ConsoleWorld]:
    """The app (API and console) served by uvicorn on a loopback port in a thread, stopped at the end."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(console_world.app, host=LOOPBACK, port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="console-uvicorn", daemon=True)
    thread.start()
    try:
        wait_for_port(LOOPBACK, port, STARTUP_TIMEOUT_S, service="console app")
        console_world.base_url = f"http://{LOOPBACK}:{port}"
        yield console_world
    finally:
        server.should_exit = True
        thread.join(timeout=STARTUP_TIMEOUT_S)


@pytest.fixture
def client(console_world: ConsoleWorld) -> Iterator[TestClient]:
    """A browser-like HTTP client on the app, without a session."""
    with TestClient(console_world.app, base_url="http://testserver") as test_client:
        yield test_client


def sign_in(client: TestClient, world: ConsoleWorld, roles: frozenset[str] = ADMINISTRATOR) -> str:
    """Open a one-time link in ``client``; returns the session's CSRF token read from the grid page."""
    token = world.console.sessions.mint_link("local:test", "Test Person", roles)
    assert client.get(link_url("", token)).status_code == 200
    page = client.get("/console/mailboxes")
    assert page.status_code == 200, page.text
    marker = 'name="csrf_token" value="'
    start = page.text.index(marker) + len(marker)
    return page.text[start : page.text.index('"', start)]


# --- the browser: Debian's Chromium driven by Playwright (no browser download) ---------------------------------
CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[3] / "test-output" / "console"
DESKTOP: ViewportSize = {"width": 1280, "height": 900}
PHONE: ViewportSize = {"width": 390, "height": 844}  # a current phone's CSS width


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Module-scoped: Playwright's sync API runs an event loop in the main thread while it is open, and other
    modules' tests call asyncio.run (the Functions handler), which refuses to run inside a running loop."""
    if not CHROMIUM.exists():
        raise MissingDependencyError(f"{CHROMIUM} not found; `make setup` installs Debian's chromium")
    with sync_playwright() as playwright:
        # --no-sandbox: tests run as root on CI, where Chromium refuses its sandbox
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Browser, console_server: ConsoleWorld) -> Iterator[Page]:
    """A fresh browser context (no cookies) at desktop width."""
    context = browser.new_context(viewport=DESKTOP)
    try:
        yield context.new_page()
    finally:
        context.close()


def screenshot(page: Page, name: str) -> Path:
    """The page as it looks now, full length, into test-output/console/."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    width = page.viewport_size["width"] if page.viewport_size else 0
    path = SCREENSHOTS / f"{name}-{width}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
