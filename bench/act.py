"""Benchmark: the initial ACT sync of N CRM records (appointments, contacts, tasks) into one Exchange mailbox.

A user with an Exchange mailbox on the EWS test server (``tests.ews.server.EwsServer``, real SOAP over HTTPS,
run in a child process by ``bench.ews.RemoteEws`` so its CPU stays out of the figures), reached with the
mailbox's Basic credentials, ACT by server-side synchronization. N records are written in the CRM (Azurite)
through ``ActRecords``, which marks each one's link row, as the CRM does: a mix of appointments the user
organizes (some all-day, some in "W. Europe Standard Time" or "Pacific Standard Time", a few weekly
series, some with a contact or an outside address attending), contacts the user owns and tasks the user
owns. The figure is the initial sync: ``ActCycle`` runs, each on a freshly read mailbox, until one reports
no changes (the cycle after the creates reads our own writes back and finds nothing to do; it is timed, and
the time until every record was linked is reported apart). Then N items must be in the mailbox's calendar,
contacts and tasks, and N links must hold an Exchange item id.

Baseline, in the same run against the same server: plain exchangelib (Basic credentials, version pinned,
exchangelib's own HTTP adapter only taught to trust the test CA; our connector installs its own) creating
the same N items, built from the same canonical fields with ``act_items.new_item`` and written with
``item.save()``, one CreateItem each as our path does, on a second mailbox, storing nothing. Writing them
with ``account.bulk_create`` per folder (CreateItem in exchangelib's chunks) on a third mailbox is reported
as ``bulk_baseline_per_s``.

Prints items/s, the baseline, their ratio, EWS calls per item (the server's own count), Table transactions
per item and the peak RSS of this process up to the end of the sync; the last line is one JSON object
(ARCHITECTURE.md §8).

With ``--api graph`` the mailbox is an Exchange Online mailbox on the Graph test server, synced through
Microsoft Graph, and the baseline is the plain thin Graph client creating the same items one by one
(``bench/act_graph.py``).

    python -m bench.act [--n 1000] [--api ews|graph]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import resource
import shutil
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from datetime import time as clock
from pathlib import Path
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from exchangelib import DELEGATE, Account, CalendarItem, Configuration, Credentials, Version
from exchangelib.items import SEND_TO_NONE
from exchangelib.transport import BASIC
from exchangelib.version import EXCHANGE_2013_SP1

from bench import act_graph, storage_rtt
from bench.corpus import log
from bench.ews import RemoteEws, plain_exchangelib
from devstack.azurite import Azurite
from devstack.certs import TestCA
from sync.act import fields as canonical
from sync.act.cycle import ActCycle, ActReport
from sync.act.filters import ActRecord
from sync.act.port import ActConnector
from sync.act.records import ActRecords
from sync.auth.secrets import SecretBox, new_key, seal_field
from sync.mail.ews import act_items
from sync.mail.ews.connector import EwsConnector
from sync.mailboxes.provisioning import Provisioning
from sync.model import Contact, EmailServerProfile, Mailbox, SystemUser
from sync.model.act import Appointment, AppointmentStatus, Recurrence, RecurrenceKind, Task, TaskStatus
from sync.model.email import ActivityParty
from sync.model.fields import EntityRef
from sync.model.options import (
    ActDeliveryMethod,
    CredentialRetrieval,
    EmailAddressApproval,
    EntityType,
    ParticipationType,
    ServerType,
    TestStatus,
)
from sync.settings import load_settings
from sync.store import Store

ADDRESS = "act-bench@example.test"  # the user's Exchange mailbox, synced by ACT
BASELINE_ADDRESS = "act-baseline@example.test"  # the same items, one CreateItem each with plain exchangelib
BULK_ADDRESS = "act-bulk@example.test"  # the same items, bulk_create per folder
PASSWORD = "secret"  # Basic password of the test server's users; not a real secret
BASELINE = "plain exchangelib: one CreateItem per item, nothing stored"
SHARES = {EntityType.CONTACT: 0.25, EntityType.TASK: 0.15}  # the rest are appointments
ZONES: dict[str | None, tzinfo] = {  # Windows zone of the record (None: written in UTC) -> its local time
    None: UTC,
    "W. Europe Standard Time": ZoneInfo("Europe/Berlin"),
    "Pacific Standard Time": ZoneInfo("America/Los_Angeles"),
}
FIRST_NAMES = ["Anna", "Ben", "Carla", "David", "Eva", "Felix", "Greta", "Hugo", "Ines", "Jonas", "Karin", "Lukas"]
LAST_NAMES = ["Meyer", "Schmidt", "Garcia", "Okafor", "Nguyen", "Rossi", "Larsen", "Kowalski", "Dubois", "Silva"]
COMPANIES = ["Contoso Ltd", "Fabrikam Inc", "Northwind Traders", "Adventure Works", "Tailspin Toys", "Litware"]
SUBJECTS = ["Quarterly review", "Kick-off", "Pricing call", "Site visit", "Renewal", "Demo", "Planning", "Workshop"]
TASK_SUBJECTS = ["Send the quote", "Call back", "Prepare the contract", "Update the forecast", "Book the venue"]
Plan = list[tuple[EntityType, dict[str, object]]]


# --- the CRM side ---------------------------------------------------------------------------------------
def exchange_profile(store: Store, ews: RemoteEws) -> EmailServerProfile:
    profile = EmailServerProfile(
        name="Exchange Server (bench)",
        server_type=ServerType.EXCHANGE_SERVER,
        incoming_server_location=ews.url,
        incoming_credential_retrieval=CredentialRetrieval.USER_OR_QUEUE,  # the mailbox's own Basic login
    )
    return store.profiles.insert(profile)


def user_mailbox(store: Store, box: SecretBox, profile: EmailServerProfile) -> tuple[EntityRef, Mailbox]:
    user, mailbox = Provisioning(store).create_user(
        SystemUser(full_name="ACT bench", internal_email_address=f"act-bench-{uuid.uuid4().hex[:6]}@crm.test")
    )
    mailbox = store.get_mailbox(mailbox.id)
    mailbox.email_address = ADDRESS
    mailbox.email_server_profile_id = profile.id
    mailbox.approval = EmailAddressApproval.APPROVED
    mailbox.allow_credentials_for_email_processing = True
    mailbox.username = ADDRESS
    mailbox.act_method = ActDeliveryMethod.SERVER_SIDE_SYNC
    mailbox.act_status = TestStatus.SUCCESS
    seal_field(box, mailbox, "password", PASSWORD)
    return EntityRef(type=EntityType.SYSTEM_USER, id=user.id), store.mailboxes.update(mailbox)


def mix(n: int) -> dict[EntityType, int]:
    contacts, tasks = round(n * SHARES[EntityType.CONTACT]), round(n * SHARES[EntityType.TASK])
    return {EntityType.APPOINTMENT: n - contacts - tasks, EntityType.CONTACT: contacts, EntityType.TASK: tasks}


def contact(i: int, user_id: str, rng: random.Random) -> Contact:
    first, last = FIRST_NAMES[i % len(FIRST_NAMES)], f"{LAST_NAMES[i % len(LAST_NAMES)]}-{i}"
    company = COMPANIES[i % len(COMPANIES)]
    mailing = i % 2 == 0
    return Contact(
        first_name=first,
        last_name=last,
        email_address1=f"{first.lower()}.{last.lower()}@{company.split()[0].lower()}.test",
        email_address2=f"{first.lower()}{i}@mail.test" if i % 7 == 0 else None,
        job_title=rng.choice(["Buyer", "Purchasing lead", "Engineer", None, "Accountant"]),
        company_name=company,
        telephone1=f"+49 30 5550{i:04d}",
        mobile_phone=f"+49 170 555{i:04d}" if i % 3 == 0 else None,
        address1_line1=f"{i % 200 + 1} Main Street" if mailing else None,
        address1_city=rng.choice(["Berlin", "Seattle", "Lyon"]) if mailing else None,
        address1_postal_code=f"{10_000 + i % 80_000}" if mailing else None,
        address1_country="Germany" if mailing else None,
        owner_user_id=user_id,
    )


def appointment(i: int, user: EntityRef, attendees: list[Contact], today: date, rng: random.Random) -> Appointment:
    day = today + timedelta(days=1 + i % 60)
    zone_name = "W. Europe Standard Time" if i % 10 < 3 else "Pacific Standard Time" if i % 10 < 5 else None
    zone = ZONES[zone_name]
    all_day = i % 12 == 5
    if all_day:
        start = datetime.combine(day, clock(), tzinfo=zone)
        end = datetime.combine(day + timedelta(days=1 + (i % 24 == 5)), clock(), tzinfo=zone)
    else:
        start = datetime.combine(day, clock(8 + i % 9, 30 * (i % 2)), tzinfo=zone)
        end = start + timedelta(minutes=rng.choice([30, 60, 60, 90]))
    series = None
    if i % 25 == 3 and not all_day:  # a weekly series: the start's weekday and the next one
        weekday = day.isoweekday()
        series = Recurrence(
            kind=RecurrenceKind.WEEKLY, weekdays=sorted({weekday, weekday % 7 + 1}), start=day, occurrences=8
        )
    parties = [ActivityParty(participation=ParticipationType.ORGANIZER, party=user)]
    if i % 3 == 0 and attendees:
        guest = attendees[i % len(attendees)]
        parties.append(
            ActivityParty(
                participation=ParticipationType.REQUIRED_ATTENDEE,
                party=EntityRef(type=EntityType.CONTACT, id=guest.id),
                address_used=guest.email_address1,
            )
        )
    if i % 5 == 0:
        parties.append(
            ActivityParty(participation=ParticipationType.OPTIONAL_ATTENDEE, address_used=f"guest{i}@x.test")
        )
    return Appointment(
        subject=f"{SUBJECTS[i % len(SUBJECTS)]} #{i}",
        description=f"Agenda\n- item {i}\n- next steps" if i % 4 == 0 else None,
        location=rng.choice(["Room 1", "Room 2", "Teams", None]),
        scheduled_start=start.astimezone(UTC),
        scheduled_end=end.astimezone(UTC),
        is_all_day_event=all_day,
        time_zone=zone_name,
        parties=parties,
        status=AppointmentStatus.TENTATIVE if i % 9 == 0 else AppointmentStatus.BUSY,
        owner_user_id=user.id,
        recurrence=series,
    )


def task(i: int, user_id: str, today: date) -> Task:
    due = datetime.combine(today + timedelta(days=2 + i % 30), clock(17), tzinfo=UTC)
    status = [TaskStatus.NOT_STARTED, TaskStatus.NOT_STARTED, TaskStatus.IN_PROGRESS, TaskStatus.WAITING][i % 4]
    return Task(
        subject=f"{TASK_SUBJECTS[i % len(TASK_SUBJECTS)]} #{i}",
        description=f"Details for task {i}" if i % 3 == 0 else None,
        scheduled_end=due if i % 5 else None,
        actual_start=datetime.combine(today, clock(9), tzinfo=UTC) if status is TaskStatus.IN_PROGRESS else None,
        status=status,
        owner_user_id=user_id,
    )


def create_records(store: Store, user: EntityRef, counts: dict[EntityType, int]) -> list[ActRecord]:
    """Written as the CRM writes them: each marks the user's link row (contacts first: they attend)."""
    rng = random.Random(7)
    today = datetime.now(UTC).date()
    records = ActRecords(store)
    contacts = [records.create(contact(i, user.id, rng)) for i in range(counts[EntityType.CONTACT])]
    guests = [c for c in contacts if isinstance(c, Contact)]
    appointments = [
        records.create(appointment(i, user, guests, today, rng)) for i in range(counts[EntityType.APPOINTMENT])
    ]
    tasks = [records.create(task(i, user.id, today)) for i in range(counts[EntityType.TASK])]
    return appointments + contacts + tasks


def plan(records: list[ActRecord], now: datetime) -> Plan:
    """The canonical fields of every record, as the cycle computes them: the baseline writes the same."""
    addresses = {r.id: r.email_address1 for r in records if isinstance(r, Contact)}

    def address(ref: EntityRef) -> str | None:
        return addresses.get(ref.id)

    planned: Plan = []
    for record in records:
        if isinstance(record, Appointment):
            planned.append((EntityType.APPOINTMENT, canonical.appointment_fields(record, address, now)))
        elif isinstance(record, Task):
            planned.append((EntityType.TASK, canonical.task_fields(record, now)))
        else:
            planned.append((EntityType.CONTACT, canonical.contact_fields(record)))
    return planned


# --- the two measurements -------------------------------------------------------------------------------
@dataclass
class Sync:
    per_s: float
    seconds: float
    linked_seconds: float
    table_tx: int
    calls: Counter[str]
    reports: list[ActReport]


class CountsCalls(Protocol):
    def reset_calls(self) -> None: ...
    def calls(self) -> Counter[str]: ...


def initial_sync(
    store: Store, connector: ActConnector, ews: CountsCalls, mailbox_id: str, profile: EmailServerProfile, n: int
) -> Sync:
    """ActCycle after ActCycle, each on the mailbox as stored, until one has nothing to do."""
    counter = store.account.counter
    ews.reset_calls()
    before = counter.total("table")
    reports: list[ActReport] = []
    created = 0
    linked_seconds = 0.0
    started = time.perf_counter()
    while True:
        mailbox = store.get_mailbox(mailbox_id)
        exchange = connector.open_act(mailbox, profile)
        report = ActCycle(store, mailbox, exchange, now=lambda: datetime.now(UTC)).run()
        reports.append(report)
        created += report.created_in_exchange
        if created >= n and not linked_seconds:
            linked_seconds = time.perf_counter() - started
        log(
            f"    cycle {len(reports)}: pulled {report.pulled}, created in Exchange {report.created_in_exchange}, "
            f"changes {report.changes}, item errors {report.item_errors} ({created}/{n} created)"
        )
        if report.item_errors:
            raise RuntimeError(f"{report.item_errors} items failed: {report.errors[:3]}")
        if report.changes == 0:
            break
        if len(reports) >= 10:
            raise RuntimeError("the sync did not settle in 10 cycles")
    seconds = time.perf_counter() - started
    return Sync(n / seconds, seconds, linked_seconds, counter.total("table") - before, ews.calls(), reports)


def plain_account(url: str, address: str) -> Account:
    config = Configuration(
        service_endpoint=url,
        credentials=Credentials(address, PASSWORD),
        auth_type=BASIC,
        version=Version(build=EXCHANGE_2013_SP1),  # what the connector pins for Exchange Server
    )
    return Account(address, config=config, autodiscover=False, access_type=DELEGATE)


def folder_of(account: Account) -> Callable[[EntityType], Any]:
    def folder(object_type: EntityType) -> Any:
        if object_type is EntityType.APPOINTMENT:
            return account.calendar
        return account.contacts if object_type is EntityType.CONTACT else account.tasks

    return folder


def baseline(ews: RemoteEws, planned: Plan) -> tuple[float, Counter[str]]:
    """Each item built from its canonical fields and saved alone: one CreateItem each, nothing stored."""
    ews.reset_calls()
    started = time.perf_counter()
    account = plain_account(ews.url, BASELINE_ADDRESS)
    folder = folder_of(account)
    for object_type, values in planned:
        item = act_items.new_item(object_type, values, account, folder(object_type))
        if isinstance(item, CalendarItem):
            item.save(send_meeting_invitations=SEND_TO_NONE)
        else:
            item.save()
        if not item.id:
            raise RuntimeError(f"the baseline's {object_type.name} was not created")
    elapsed = time.perf_counter() - started
    return len(planned) / elapsed, ews.calls()


def bulk_baseline(ews: RemoteEws, planned: Plan) -> tuple[float, Counter[str]]:
    """The same items, ``bulk_create`` per folder in exchangelib's default chunks."""
    ews.reset_calls()
    started = time.perf_counter()
    account = plain_account(ews.url, BULK_ADDRESS)
    folder = folder_of(account)
    for object_type in EntityType.APPOINTMENT, EntityType.CONTACT, EntityType.TASK:
        where = folder(object_type)
        items = [act_items.new_item(t, values, account, where) for t, values in planned if t is object_type]
        results = account.bulk_create(where, items, send_meeting_invitations=SEND_TO_NONE) if items else []
        failed = [r for r in results if isinstance(r, Exception)]
        if failed:
            raise RuntimeError(f"bulk_create: {len(failed)} {object_type.name} items failed: {failed[0]}")
    elapsed = time.perf_counter() - started
    return len(planned) / elapsed, ews.calls()


# --- checks ---------------------------------------------------------------------------------------------
def items_in_mailbox(url: str, address: str) -> dict[EntityType, int]:
    """Counted with FindItem (a weekly series is its one master item)."""
    account = plain_account(url, address)
    folder = folder_of(account)
    return {t: folder(t).all().count() for t in (EntityType.APPOINTMENT, EntityType.CONTACT, EntityType.TASK)}


def linked(store: Store, mailbox_id: str) -> int:
    """Links that hold an Exchange item id and have nothing left to push."""
    links = store.act_links.links.query("PartitionKey eq @pk and RowKey ge 'c|' and RowKey lt 'c}'", {"pk": mailbox_id})
    return sum(1 for link in links if link.exchange_entry_id and not link.pending)


def check(what: str, found: dict[EntityType, int], counts: dict[EntityType, int]) -> None:
    if found != counts:
        raise RuntimeError(f"{what}: {_named(found)} items in Exchange, expected {_named(counts)}")


def _named(counts: dict[EntityType, int]) -> dict[str, int]:
    return {t.name.lower(): c for t, c in counts.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=1000, help="CRM records to sync (default 1000)")
    parser.add_argument("--api", choices=("ews", "graph"), default="ews", help="how Exchange is reached (default ews)")
    storage_rtt.add_option(parser)
    args = parser.parse_args(argv)
    n: int = args.n
    if args.api == "graph":
        return main_graph(n, args.storage_rtt_ms)
    counts = mix(n)
    run_started = time.perf_counter()
    with contextlib.ExitStack() as servers:  # stops every server, in reverse order, however the run ends
        work_dir = Path(tempfile.mkdtemp(prefix="bench-act-"))
        servers.callback(shutil.rmtree, work_dir, ignore_errors=True)
        log("==> starting Azurite and the EWS test server")
        ca = TestCA.create(work_dir / "ca")
        azurite = servers.enter_context(Azurite(work_dir / "azurite", in_memory=True))
        storage_url = servers.enter_context(storage_rtt.storage_connection(azurite, args.storage_rtt_ms))
        users = dict.fromkeys((ADDRESS, BASELINE_ADDRESS, BULK_ADDRESS), PASSWORD)
        ews = servers.enter_context(RemoteEws(ca, users, ""))  # Basic logins only: no token issuer
        for address in users:
            ews.add_mailbox(address)
        settings = load_settings(
            storage_connection_string=storage_url,
            secret_encryption_key=new_key(),
            storage_prefix="bench" + uuid.uuid4().hex[:6],
            extra_ca_file=str(ca.ca_cert),
            worker_budget_seconds=590,
        )
        store = Store.from_settings(settings)
        store.account.ensure_created()
        box = SecretBox(settings.aes_key())
        profile = exchange_profile(store, ews)
        user, mailbox = user_mailbox(store, box, profile)

        log(f"==> writing {n} CRM records ({_named(counts)})")
        setup_started = time.perf_counter()
        records = create_records(store, user, counts)
        log(f"    {time.perf_counter() - setup_started:.1f} s")
        planned = plan(records, datetime.now(UTC))

        log("==> initial sync: ActCycle until a cycle has nothing to do")
        connector = EwsConnector(settings, box, None)  # installs our HTTP adapter for every EWS connection
        sync = initial_sync(store, connector, ews, mailbox.id, profile, n)
        peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # before the baselines add theirs
        log(
            f"    {sync.per_s:.1f} items/s ({sync.seconds:.1f} s, all linked after {sync.linked_seconds:.1f} s), "
            f"{sync.calls.total()} EWS calls {dict(sync.calls)}, {sync.table_tx} Table requests"
        )
        links = linked(store, mailbox.id)
        if links != n:
            raise RuntimeError(f"{links} links hold an Exchange item, expected {n}")

        plain_exchangelib(ca, work_dir)  # exchangelib's own adapter from here on, trusting the test CA
        log("==> baseline: plain exchangelib, new_item + save(), one CreateItem each")
        base, base_calls = baseline(ews, planned)
        log(f"    {base:.1f} items/s, {base_calls.total()} EWS calls {dict(base_calls)}")
        log("==> extra: plain exchangelib, bulk_create per folder")
        bulk, bulk_calls = bulk_baseline(ews, planned)
        log(f"    {bulk:.1f} items/s, {bulk_calls.total()} EWS calls {dict(bulk_calls)}")

        check("the synced mailbox", items_in_mailbox(ews.url, ADDRESS), counts)
        check("the baseline's mailbox", items_in_mailbox(ews.url, BASELINE_ADDRESS), counts)
        check("the bulk baseline's mailbox", items_in_mailbox(ews.url, BULK_ADDRESS), counts)

    summary = {
        "benchmark": "act",
        "n": n,
        "storage_rtt_ms": args.storage_rtt_ms,
        "per_s": round(sync.per_s, 1),
        "baseline": BASELINE,
        "baseline_per_s": round(base, 1),
        "ratio": round(sync.per_s / base, 3),
        "bulk_baseline_per_s": round(bulk, 1),
        "calls_per_item": round(sync.calls.total() / n, 3),
        "baseline_calls_per_item": round(base_calls.total() / n, 3),
        "bulk_baseline_calls_per_item": round(bulk_calls.total() / n, 3),
        "calls_by_operation": dict(sorted(sync.calls.items())),
        "baseline_calls_by_operation": dict(sorted(base_calls.items())),
        "table_tx_per_item": round(sync.table_tx / n, 2),
        "peak_rss_mb": round(peak_rss, 1),
        "mix": _named(counts),
        "cycles": len(sync.reports),
        "sync_s": round(sync.seconds, 1),
        "linked_s": round(sync.linked_seconds, 1),
        "wall_s": round(time.perf_counter() - run_started, 1),
    }
    print(json.dumps(summary))
    return 0


def main_graph(n: int, storage_rtt_ms: float = 0.0) -> int:
    """The same sync into an Exchange Online mailbox through Microsoft Graph (``bench/act_graph.py``)."""
    counts = mix(n)
    run_started = time.perf_counter()
    with contextlib.ExitStack() as servers:
        work_dir = Path(tempfile.mkdtemp(prefix="bench-act-graph-"))
        servers.callback(shutil.rmtree, work_dir, ignore_errors=True)
        log("==> starting Azurite, the Entra ID mock and the Graph test server")
        ca = TestCA.create(work_dir / "ca")
        azurite = servers.enter_context(Azurite(work_dir / "azurite", in_memory=True))
        storage_url = servers.enter_context(storage_rtt.storage_connection(azurite, storage_rtt_ms))
        entra, graph = act_graph.start(servers, work_dir, ca)
        for address in (ADDRESS, BASELINE_ADDRESS):
            graph.add_mailbox(address)
        settings = load_settings(
            storage_connection_string=storage_url,
            secret_encryption_key=new_key(),
            storage_prefix="bench" + uuid.uuid4().hex[:6],
            extra_ca_file=str(ca.ca_cert),
            entra_authority=entra.authority,
            worker_budget_seconds=590,
        )
        store = Store.from_settings(settings)
        store.account.ensure_created()
        box = SecretBox(settings.aes_key())
        profile = act_graph.profile(store, box, graph)
        user, mailbox = user_mailbox(store, box, profile)
        side = act_graph.connect(servers, store, settings, box, graph)

        log(f"==> writing {n} CRM records ({_named(counts)})")
        records = create_records(store, user, counts)
        planned = plan(records, datetime.now(UTC))

        log("==> initial sync through Graph: ActCycle until a cycle has nothing to do")
        wire_start = side.wire.count
        sync = initial_sync(store, side.connector, side, mailbox.id, profile, n)
        http = side.wire.since(wire_start)
        peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        log(
            f"    {sync.per_s:.1f} items/s ({sync.seconds:.1f} s, all linked after {sync.linked_seconds:.1f} s), "
            f"{sync.calls.total()} Graph calls {dict(sync.calls)}, {http} HTTP requests, {sync.table_tx} Table requests"
        )
        links = linked(store, mailbox.id)
        if links != n:
            raise RuntimeError(f"{links} links hold an Exchange item, expected {n}")

        log("==> baseline: the plain Graph client, one POST per item")
        base, base_calls, base_http = act_graph.baseline(side, settings, BASELINE_ADDRESS, planned)
        log(f"    {base:.1f} items/s, {base_calls.total()} Graph calls {dict(base_calls)}")
        check("the synced mailbox", act_graph.items_in_mailbox(graph, ADDRESS), counts)
        check("the baseline's mailbox", act_graph.items_in_mailbox(graph, BASELINE_ADDRESS), counts)

    summary = {
        "benchmark": "act",
        "api": "graph",
        "n": n,
        "storage_rtt_ms": storage_rtt_ms,
        "per_s": round(sync.per_s, 1),
        "baseline": act_graph.BASELINE,
        "baseline_per_s": round(base, 1),
        "ratio": round(sync.per_s / base, 3),
        "calls_per_item": round(sync.calls.total() / n, 3),
        "http_requests_per_item": round(http / n, 3),
        "baseline_calls_per_item": round(base_calls.total() / n, 3),
        "baseline_http_requests_per_item": round(base_http / n, 3),
        "calls_by_route": dict(sorted(sync.calls.items())),
        "table_tx_per_item": round(sync.table_tx / n, 2),
        "peak_rss_mb": round(peak_rss, 1),
        "mix": _named(counts),
        "cycles": len(sync.reports),
        "sync_s": round(sync.seconds, 1),
        "linked_s": round(sync.linked_seconds, 1),
        "wall_s": round(time.perf_counter() - run_started, 1),
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
