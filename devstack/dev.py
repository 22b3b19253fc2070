"""``make dev``: the service running locally on fixed ports, until Ctrl-C.

Starts Azurite (its data kept in ``.dev/``), Dovecot and the SMTP server, creates the storage, seeds the
demo organization once (not with ``--no-seed``), writes ``local.settings.json`` (reused next time), mints
an admin API key and a one-time console sign-in link, and runs the Functions app's triggers, the admin API and
the console through the dev host. SIGINT or SIGTERM stops everything it started: the servers run in their own
process groups and are stopped, and waited for, on the way out.

Ports are fixed so that settings, bookmarks and a mail client keep working between runs; each one has a
flag. ``--no-host`` starts the stack only, for ``func start`` to run the app instead.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, fields
from pathlib import Path
from types import FrameType
from typing import Any

from devstack.azurite import REPO_ROOT, Azurite
from devstack.certs import TestCA
from devstack.dovecot import Dovecot
from devstack.errors import DevstackError
from devstack.local_settings import dev_values, read_values, write
from devstack.ports import LOOPBACK
from devstack.seed import DEMO_QUEUE, mail_accounts
from devstack.smtp import SmtpServer
from sync.errors import SyncError

QUIET_LOGGERS = ("azure", "mail.log", "msal", "exchangelib")  # per-request chatter; warnings still show


@dataclass(frozen=True)
class DevPorts:
    """Where each server listens; the defaults avoid the well-known mail ports (which need a system server)."""

    api: int = 7071  # what `func start` uses
    blob: int = 10000  # Azurite's own defaults
    queue: int = 10001
    table: int = 10002
    imap: int = 10143
    imaps: int = 10993
    pop3: int = 10110
    pop3s: int = 10995
    lmtp: int = 10024
    smtp: int = 10587  # submission, STARTTLS
    smtps: int = 10465


@dataclass
class RunningStack:
    ca: TestCA
    azurite: Azurite
    dovecot: Dovecot
    smtp: SmtpServer


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m devstack.dev", description=__doc__.splitlines()[0])
    parser.add_argument("--no-seed", action="store_true", help="do not create the demo organization")
    parser.add_argument("--no-host", action="store_true", help="start the stack only (for `func start`)")
    parser.add_argument("--state-dir", type=Path, default=REPO_ROOT / ".dev", help="kept storage (default .dev)")
    parser.add_argument(
        "--settings-file", type=Path, default=REPO_ROOT / "local.settings.json", help="default local.settings.json"
    )
    for port in fields(DevPorts):
        flag = f"--{port.name}-port"
        parser.add_argument(flag, type=int, default=port.default, dest=f"port_{port.name}", help=f"({port.default})")
    return parser.parse_args(argv)


def ports_from(args: argparse.Namespace) -> DevPorts:
    return DevPorts(**{port.name: getattr(args, f"port_{port.name}") for port in fields(DevPorts)})


def pin_ports(server: object, **ports: int) -> None:
    """The servers pick free ports when built (right for tests); a dev stack wants the same ports every run."""
    for name, port in ports.items():
        if not hasattr(server, name):
            raise DevstackError(f"{type(server).__name__} has no {name}")
        setattr(server, name, port)


@contextlib.contextmanager
def running_stack(ports: DevPorts, state_dir: Path) -> Iterator[RunningStack]:
    """Azurite with kept data; Dovecot and its CA in a fresh temp dir (its unprivileged workers must reach it)."""
    with contextlib.ExitStack() as stack:
        scratch = Path(tempfile.mkdtemp(prefix="sync-dev-"))
        scratch.chmod(0o755)
        stack.callback(shutil.rmtree, scratch, ignore_errors=True)  # after the servers stop
        ca = TestCA.create(scratch / "ca")
        azurite = Azurite(state_dir / "azurite", in_memory=False)
        pin_ports(azurite, blob_port=ports.blob, queue_port=ports.queue, table_port=ports.table)
        stack.enter_context(azurite)
        dovecot = Dovecot(scratch / "dovecot", ca, mail_accounts())
        pin_ports(dovecot, imap_port=ports.imap, imaps_port=ports.imaps, pop3_port=ports.pop3,
                  pop3s_port=ports.pop3s, lmtp_port=ports.lmtp)  # fmt: skip
        stack.enter_context(dovecot)
        smtp = SmtpServer(ca, mail_accounts(), relay_to_lmtp=(dovecot.host, dovecot.lmtp_port))
        pin_ports(smtp, submission_port=ports.smtp, smtps_port=ports.smtps)
        stack.enter_context(smtp)
        yield RunningStack(ca, azurite, dovecot, smtp)


def seed(function_app: Any, api_key: str, ports: DevPorts) -> list[str]:
    """The demo organization through the admin API, then Test & Enable on each mailbox; returns the addresses."""
    from fastapi.testclient import TestClient  # noqa: PLC0415 (FastAPI's test client: only needed to seed)

    from devstack.seed_api import seed_through_api  # noqa: PLC0415
    from sync.api.app import create_app  # noqa: PLC0415
    from sync.api.auth import API_KEY_HEADER  # noqa: PLC0415

    app = create_app(function_app.settings, lambda: function_app.services.store)
    with TestClient(app, headers={API_KEY_HEADER: api_key}) as api:
        ids = seed_through_api(api, mail_host="localhost", imap_port=ports.imaps, smtp_port=ports.smtp)
        for mailbox_id in ids["mailboxes"].values():
            api.post(f"/api/mailboxes/{mailbox_id}/test-and-enable")
    return list(ids["mailboxes"])


def is_seeded(function_app: Any) -> bool:
    return function_app.services.store.get_organization().default_email_server_profile_id is not None


def configure_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stdout)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


def say(line: str) -> None:
    print(line, flush=True)


def interrupt(signum: int, frame: FrameType | None) -> None:
    """SIGTERM unwinds like Ctrl-C, so every server is stopped on the way out."""
    raise KeyboardInterrupt


def run(args: argparse.Namespace) -> int:
    from sync.api.auth import new_api_key  # noqa: PLC0415
    from sync.console.local_link import mint_local_link  # noqa: PLC0415

    ports = ports_from(args)
    say(f"==> starting Azurite, Dovecot and the SMTP server (storage kept in {args.state_dir})")
    with running_stack(ports, args.state_dir) as stack:
        say(f"stack pids: {stack.azurite.pid} {stack.dovecot.pid}")
        api_key, digest = new_api_key()
        values = dev_values(
            read_values(args.settings_file),
            connection_string=stack.azurite.connection_string,
            ca_file=str(stack.ca.ca_cert),
            api_key_digest=digest,
        )
        write(args.settings_file, values, api_port=ports.api)
        say(f"==> settings written to {args.settings_file}")
        os.environ.update(values)
        os.environ.pop("AzureWebJobsStorage__accountName", None)
        sys.modules.pop("function_app", None)
        function_app = importlib.import_module("function_app")
        store = function_app.services.store
        store.account.check_reachable()
        store.account.ensure_created()
        if not args.no_seed and not is_seeded(function_app):
            say("==> seeding the demo organization and running Test & Enable")
            say("    mailboxes: " + ", ".join(seed(function_app, api_key, ports)))
        base = f"http://{LOOPBACK}:{ports.api}/api"

        def ready() -> None:
            if args.no_host:
                say(f"stack only: `func start` serves the admin API on {base} with this key")
            else:
                say(f"admin API: {base}")
            say(f"API key: {api_key}")
            say(f"console: {mint_local_link(store, function_app.settings, f'http://{LOOPBACK}:{ports.api}')}")
            say("    (a one-time sign-in link: it opens a signed-in session once; restart make dev for another)")
            say(f"docs: {base}/docs ; try: curl -H 'X-API-Key: {api_key}' {base}/mailboxes")
            say(
                f"deliver a test message: .venv/bin/python -m devstack.deliver {DEMO_QUEUE[0]} "
                f"--lmtp-port {ports.lmtp}  (or give an .eml file after the address)"
            )
            func = "found" if shutil.which("func") else "not installed"
            say(
                f"Functions Core Tools ({func}): run `make dev DEV_ARGS=--no-host` here and `func start` in another "
                f"terminal; it reads {args.settings_file.name} (same storage, key and API keys)"
            )
            say("Ctrl-C stops everything")

        configure_logging()
        if args.no_host:
            ready()
            signal.pause()  # until SIGINT/SIGTERM raise KeyboardInterrupt
        else:
            from sync.api.app import create_app  # noqa: PLC0415
            from sync.devhost import DevHost  # noqa: PLC0415

            host = DevHost(function_app.app, function_app.settings)
            api = create_app(function_app.settings, lambda: store)
            host.serve(api, host=LOOPBACK, port=ports.api, on_ready=ready)
        say("==> stopping the stack")
    say("==> stopped")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, interrupt)
    try:
        return run(args)
    except KeyboardInterrupt:
        say("==> stopped")
        return 0
    except (SyncError, DevstackError) as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return 2


if __name__ == "__main__":
    sys.exit(main())
