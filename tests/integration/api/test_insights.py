"""Insights on real Azurite, Dovecot and aiosmtpd: emails the real worker left untracked, found across mailboxes
through the index and explained; the dashboard's hourly series; a profile's failing share."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from sync.auth.secrets import SecretBox
from sync.incoming.worker import MailboxWorker
from sync.insights.explain import NOT_SEEN, label
from sync.mail import egress
from sync.model.fields import utcnow
from sync.model.options import FilteringMethod
from sync.operations.summary import refresh_snapshot
from sync.scheduling.scheduler import Scheduler
from sync.scheduling.work import WorkItem
from sync.services import incoming_connectors
from sync.settings import Settings
from sync.store import Store
from sync.store.not_tracked_index import SearchKey
from sync.store.sync_totals import Totals
from tests.conftest import TEST_EGRESS
from tests.integration.api.conftest import MailWorld, created
from tests.integration.incoming.conftest import message

pytestmark = pytest.mark.integration

RESPONSES = label(FilteringMethod.RESPONSES_TO_CRM_EMAIL)
FROM_CUSTOMERS = label(FilteringMethod.FROM_LEADS_CONTACTS_ACCOUNTS)


class Clock:
    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(scope="module")
def clock(app: FastAPI) -> Iterator[Clock]:
    clock = Clock()
    app.state.context.clock = clock
    yield clock


@dataclass
class Untracked:
    """Two mailboxes that each received the same email from a stranger, and a few other emails."""

    mailboxes: list[str]
    sender: str
    message_id: str
    subject: str


def sync_once(store: Store, settings: Settings, mailbox_id: str) -> None:
    items: list[WorkItem] = []
    Scheduler(store, settings, items.append, clock=utcnow).tick()
    [item] = [i for i in items if i.mailbox_id == mailbox_id]
    MailboxWorker(store, settings, SecretBox(settings.aes_key()), incoming_connectors()).run(item)


@pytest.fixture(scope="module")
def untracked(admin: TestClient, mail_world: MailWorld, isolated_store: Store, api_settings: Settings) -> Untracked:
    egress.configure(TEST_EGRESS)  # set up before the per-test fixture that allows the loopback test servers
    sender = f"Stranger-{uuid.uuid4().hex[:6]}@Fabrikam.test"
    subject = f"Quote {uuid.uuid4().hex[:6]}"
    mailboxes = [mail_world.new_user(admin) for _ in range(2)]
    raw, message_id = message("placeholder@x.test", sender=sender, subject=subject)
    for mailbox_id in mailboxes:
        tested = admin.post(f"/api/mailboxes/{mailbox_id}/test-and-enable").json()
        assert tested["succeeded"], str(tested)[:3000]
        address = isolated_store.get_mailbox(mailbox_id).email_address or ""
        mail_world.dovecot.deliver(address, raw.replace(b"placeholder@x.test", address.encode()))
        sync_once(isolated_store, api_settings, mailbox_id)
    return Untracked(mailboxes, sender, message_id, subject)


def test_a_search_by_sender_finds_the_email_in_every_mailbox_and_explains_it(
    reader: TestClient, untracked: Untracked, isolated_store: Store
) -> None:
    found = reader.get("/api/insights/not-tracked", params={"sender": untracked.sender.upper()})
    assert found.status_code == 200, found.text
    items = found.json()["items"]
    assert sorted(i["mailbox_id"] for i in items) == sorted(untracked.mailboxes)
    for item in items:
        mailbox = isolated_store.get_mailbox(item["mailbox_id"])
        assert item["mailbox_name"] == mailbox.name
        assert (item["subject"], item["message_id"]) == (untracked.subject, f"<{untracked.message_id}>")
        explanation = item["explanation"]
        assert explanation["reason"] == "NoCorrelationMatch" and explanation["needs_action"]
        assert explanation["why"].startswith(
            f"The filtering method of User {mailbox.email_address} is \u2018{RESPONSES}"
        )
        assert explanation["would_track"][0] == (
            f"no CRM record has the sender's address: create a contact for {untracked.sender} and "
            f"\u2018{FROM_CUSTOMERS}\u2019 would track their emails"
        )
    assert found.json()["note"] is None


def test_a_search_costs_the_same_however_many_other_emails_were_not_tracked(
    reader: TestClient, admin: TestClient, untracked: Untracked, mail_world: MailWorld, isolated_store: Store,
    api_settings: Settings,
) -> None:  # fmt: skip
    counter = isolated_store.account.counter
    assert counter is not None

    def cost() -> int:
        before = counter.total()
        assert len(reader.get("/api/insights/not-tracked", params={"sender": untracked.sender}).json()["items"]) == 2
        return counter.total() - before

    first = cost()
    other = mail_world.new_user(admin)
    assert admin.post(f"/api/mailboxes/{other}/test-and-enable").json()["succeeded"]
    address = isolated_store.get_mailbox(other).email_address or ""
    for n in range(4):
        mail_world.dovecot.deliver(address, message(address, sender=f"other{n}@fabrikam.test")[0])
    sync_once(isolated_store, api_settings, other)
    assert len(list(isolated_store.item_failures.partition(other))) >= 4
    assert cost() == first
    # 1 organization, 1 index query, 2 failures, 2 mailboxes, then per owner its record and its own mailbox,
    # 1 address lookup of the sender (cached): no scan of ItemFailures
    assert first <= 1 + 1 + 2 + 2 + 2 * 2 + 1


def test_a_search_by_message_id_or_subject_ignores_brackets_case_and_reply_prefixes(
    reader: TestClient, untracked: Untracked
) -> None:
    def mailboxes(**params: str) -> list[str]:
        return sorted(i["mailbox_id"] for i in reader.get("/api/insights/not-tracked", params=params).json()["items"])

    assert mailboxes(message_id=untracked.message_id) == sorted(untracked.mailboxes)
    assert mailboxes(message_id=f" <{untracked.message_id.upper()}>") == sorted(untracked.mailboxes)
    assert mailboxes(subject=f"RE: Fwd:  {untracked.subject.upper()} ") == sorted(untracked.mailboxes)
    assert mailboxes(subject=untracked.subject, sender=untracked.sender) == sorted(untracked.mailboxes)
    nothing = reader.get("/api/insights/not-tracked", params={"subject": untracked.subject, "sender": "x@y.test"})
    assert nothing.json() == {"items": [], "note": NOT_SEEN}
    refused = reader.get("/api/insights/not-tracked", params={"subject": "  "})
    assert refused.status_code == 422, refused.text


def test_the_explanation_follows_the_records_as_they_are_now(
    admin: TestClient, reader: TestClient, untracked: Untracked
) -> None:
    page = f"/api/insights/mailboxes/{untracked.mailboxes[0]}/not-tracked"
    before = [i for i in reader.get(page).json()["items"] if i["sender"] == untracked.sender]
    assert "create a contact" in before[0]["explanation"]["would_track"][0]
    created(admin.post("/api/contacts", json={"last_name": "Stranger", "email_address1": untracked.sender}))
    [after] = [i for i in reader.get(page).json()["items"] if i["sender"] == untracked.sender]
    assert after["explanation"]["would_track"][0] == f"\u2018{FROM_CUSTOMERS}\u2019 would track this"
    assert not any("create a contact" in advice for advice in after["explanation"]["would_track"])


def test_a_mailboxs_page_explains_its_own_test_email_as_nothing_to_do(reader: TestClient, untracked: Untracked) -> None:
    page = reader.get(
        f"/api/insights/mailboxes/{untracked.mailboxes[1]}/not-tracked", params={"reason": "loopdetected"}
    )
    assert page.status_code == 200, page.text
    [loop] = page.json()["items"]
    assert loop["explanation"]["reason"] == "LoopDetected" and not loop["explanation"]["needs_action"]
    assert reader.get("/api/insights/mailboxes/nope/not-tracked").status_code == 404


def test_removing_a_failure_removes_it_from_the_index(
    reader: TestClient, untracked: Untracked, isolated_store: Store
) -> None:
    [failure] = [
        f for f in isolated_store.item_failures.partition(untracked.mailboxes[1]) if f.sender == untracked.sender
    ]
    isolated_store.item_failures.delete(failure)  # as a replay or a purge does
    for kind, value in ((SearchKey.SENDER, untracked.sender), (SearchKey.MESSAGE_ID, untracked.message_id),
                        (SearchKey.SUBJECT, untracked.subject)):  # fmt: skip
        hits = list(isolated_store.not_tracked_index.find(kind, value, limit=10))
        assert [h.mailbox_id for h in hits] == [untracked.mailboxes[0]]
    found = reader.get("/api/insights/not-tracked", params={"sender": untracked.sender}).json()["items"]
    assert [i["mailbox_id"] for i in found] == [untracked.mailboxes[0]]


def test_the_dashboard_sums_each_hour_and_shows_the_failing_samples(
    reader: TestClient, isolated_store: Store, clock: Clock
) -> None:
    now = clock.now = datetime(2024, 5, 6, 12, 34, tzinfo=UTC)  # a day no other test writes to
    totals = isolated_store.sync_totals
    totals.add("m1", now - timedelta(hours=2, minutes=30), Totals(cycles=1, tracked=3))
    busy = Totals(cycles=2, cycles_failed=1, tracked=1, not_tracked=2, reasons=Counter(NoRecipientMatch=2))
    totals.add("m2", now - timedelta(hours=2, minutes=5), busy)
    totals.add("m1", now - timedelta(minutes=3), Totals(cycles=1, not_tracked=1, reasons=Counter(NoCorrelationMatch=1)))
    totals.add("outbox-sweep", now - timedelta(minutes=3), Totals(sent=4, send_failed=1))
    totals.add("m1", now - timedelta(hours=30), Totals(cycles=1, tracked=100))  # before the window
    totals.save_failing(now - timedelta(hours=1), 2, 10)
    counter = isolated_store.account.counter
    assert counter is not None
    before = counter.total()
    body = reader.get("/api/insights/dashboard").json()
    assert counter.total() - before == 3  # the buckets, the failing samples, one page of the outbox index
    hours = body["hours"]
    assert len(hours) == 24 and hours[-1]["hour"] == "2024-05-06T12:00:00Z"
    assert [(h["tracked"], h["not_tracked"], h["cycles_failed"]) for h in hours[-3:]] == [
        (4, 2, 1),
        (0, 0, 0),
        (0, 1, 0),
    ]
    assert [h["failing_mailboxes"] for h in hours[-3:]] == [None, 2, None]
    assert (hours[-1]["sent"], hours[-1]["send_failed"], body["sent"], body["send_failed"]) == (4, 1, 4, 1)
    assert sum(h["tracked"] for h in hours) == 4
    assert body["not_tracked_reasons"] == [
        {"reason": "NoRecipientMatch", "count": 2}, {"reason": "NoCorrelationMatch", "count": 1}
    ]  # fmt: skip


def test_the_summary_timer_samples_the_failing_mailboxes_of_its_hour(isolated_store: Store) -> None:
    at = datetime(2024, 5, 7, 9, 5, tzinfo=UTC)
    snapshot = refresh_snapshot(isolated_store, at)
    assert isolated_store.sync_totals.failing_between(at, at) == {
        "2024050709": (snapshot["failing_last_hour"], snapshot["mailboxes"])
    }


def test_a_profile_shows_its_mailboxes_failing_first_and_its_share(
    admin: TestClient, reader: TestClient, mail_world: MailWorld, isolated_store: Store, clock: Clock
) -> None:
    clock.now = utcnow()
    profile = created(admin.post("/api/profiles", json={"name": "Half failing", "server_type": 4}))
    healthy = mail_world.new_user(admin, profile_id=profile["id"])
    failing = mail_world.new_user(admin, profile_id=profile["id"])
    bad = isolated_store.get_mailbox(failing)
    bad.last_sync_error, bad.last_sync_error_count, bad.last_sync_error_occurred_on = "timed out", 1, clock.now
    isolated_store.mailboxes.update(bad)
    body = reader.get(f"/api/insights/profiles/{profile['id']}").json()
    assert (body["name"], body["mailboxes"], body["failing_last_hour"], body["failing_share"]) == (
        "Half failing", 2, 1, 0.5,
    )  # fmt: skip
    assert body["over_alert_threshold"] is False  # R-ERR-7: more than half
    assert [(m["mailbox_id"], m["failing_last_hour"], m["last_sync_error"]) for m in body["items"]] == [
        (failing, True, "timed out"), (healthy, False, None),
    ]  # fmt: skip
    assert body["test_and_enable"] == f"/api/profiles/{profile['id']}/test-and-enable"
    assert reader.get("/api/insights/profiles/nope").status_code == 404
