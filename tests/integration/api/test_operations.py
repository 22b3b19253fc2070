"""Operations in the admin API on real Azurite, Dovecot and aiosmtpd: synchronize now (claimed by the real
scheduler tick), a mailbox's cycles written by the real worker, mailbox states filtered, the summary."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from sync.auth.secrets import SecretBox
from sync.incoming.worker import MailboxWorker
from sync.model.fields import utcnow
from sync.operations.summary import earlier_emails, email_figures
from sync.scheduling.scheduler import Scheduler
from sync.scheduling.work import WorkItem
from sync.services import incoming_connectors
from sync.settings import Settings
from sync.store import Store
from sync.store.sync_totals import Totals
from tests.integration.api.conftest import MailWorld, created
from tests.integration.incoming.conftest import message

pytestmark = pytest.mark.integration


class Clock:
    """The API's clock, set by each test (the scheduler tick gets the same instants)."""

    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(scope="module")
def clock(app: FastAPI) -> Iterator[Clock]:
    clock = Clock()
    app.state.context.clock = clock
    yield clock


def tick(store: Store, settings: Settings, at: datetime) -> list[WorkItem]:
    sent: list[WorkItem] = []
    Scheduler(store, settings, sent.append, clock=lambda: at).tick()
    return sent


def test_sync_now_makes_the_next_tick_claim_the_mailbox_and_its_cycles_are_listed(
    admin: TestClient, reader: TestClient, mail_world: MailWorld, isolated_store: Store, api_settings: Settings,
    clock: Clock,
) -> None:  # fmt: skip
    mailbox_id = mail_world.new_user(admin)
    assert admin.post(f"/api/mailboxes/{mailbox_id}/test-and-enable").json()["succeeded"]
    address = isolated_store.get_mailbox(mailbox_id).email_address or ""
    mail_world.dovecot.deliver(address, message(address)[0])
    worker = MailboxWorker(isolated_store, api_settings, SecretBox(api_settings.aes_key()), incoming_connectors())
    now = clock.now = utcnow()

    [item] = [i for i in tick(isolated_store, api_settings, now) if i.mailbox_id == mailbox_id]
    running = admin.post(f"/api/mailboxes/{mailbox_id}/sync")
    assert running.status_code == 409 and running.json()["reasons"] == {"incoming": ["running"]}
    assert worker.run(item).listed == 2  # the Test & Enable email and ours
    assert [i for i in tick(isolated_store, api_settings, now) if i.mailbox_id == mailbox_id] == []  # not due

    accepted = admin.post(f"/api/mailboxes/{mailbox_id}/sync", json={"workload": "incoming"})
    assert accepted.status_code == 202, accepted.text
    assert accepted.json() == {
        "mailbox_id": mailbox_id, "due_on": now.isoformat().replace("+00:00", "Z"), "scheduled": ["incoming"],
        "not_scheduled": {},
    }  # fmt: skip
    [again] = [i for i in tick(isolated_store, api_settings, now) if i.mailbox_id == mailbox_id]
    mail_world.dovecot.deliver(address, message(address, subject="Second")[0])
    assert worker.run(again).listed == 1

    cycles = reader.get(f"/api/mailboxes/{mailbox_id}/cycles").json()
    assert [(c["sequence"], c["listed"], c["outcome"]) for c in cycles] == [(1, 1, "processed"), (0, 2, "processed")]
    assert cycles[1]["reasons"] == {"LoopDetected": 1, "NoCorrelationMatch": 1}
    assert reader.get(f"/api/mailboxes/{mailbox_id}/cycles?workload=act").json() == []
    assert reader.get("/api/mailboxes/nope/cycles").status_code == 404


def test_sync_now_refuses_what_cannot_run_saying_why(
    admin: TestClient, reader: TestClient, mail_world: MailWorld, clock: Clock
) -> None:
    user = created(admin.post("/api/users", json={"full_name": "Not Ready", "internal_email_address": "nr@x.test"}))
    mailbox_id = user["default_mailbox_id"]
    refused = admin.post(f"/api/mailboxes/{mailbox_id}/sync", params={"workload": "incoming"})
    assert refused.status_code == 409
    assert "not_approved" in refused.json()["reasons"]["incoming"]
    assert "cannot be synchronized now" in refused.json()["detail"]

    tested = mail_world.new_user(admin)
    no_act = admin.post(f"/api/mailboxes/{tested}/sync", json={"workload": "act"})
    assert no_act.status_code == 409 and no_act.json()["reasons"] == {"act": ["not_used"]}
    assert reader.post(f"/api/mailboxes/{tested}/sync").status_code == 403
    assert admin.post(f"/api/mailboxes/{tested}/sync", json={"workload": "mail"}).status_code == 422
    assert admin.post("/api/mailboxes/nope/sync").status_code == 404


def test_mailbox_states_are_filtered_by_state_in_any_case(
    admin: TestClient, reader: TestClient, mail_world: MailWorld, isolated_store: Store, clock: Clock
) -> None:
    healthy = mail_world.new_user(admin)
    assert admin.post(f"/api/mailboxes/{healthy}/test-and-enable").json()["succeeded"]
    failing = mail_world.new_user(admin)
    assert admin.post(f"/api/mailboxes/{failing}/test-and-enable").json()["succeeded"]
    bad = isolated_store.get_mailbox(failing)
    bad.last_sync_error, bad.last_sync_error_count, bad.last_sync_error_occurred_on = "timed out", 1, clock.now
    isolated_store.mailboxes.update(bad)
    untested = mail_world.new_user(admin)

    def ids(query: str) -> set[str]:
        page = reader.get(f"/api/mailboxes/health?page_size=1000&{query}")
        assert page.status_code == 200, page.text
        assert page.json()["continuation"] is None
        return {m["mailbox_id"] for m in page.json()["items"]} & {healthy, failing, untested}

    assert ids("incoming=FAILING") == {failing}
    assert ids("state=Failing") == {failing}
    assert ids("state=not_tested&incoming=not_tested") == {untested}
    assert ids("incoming=healthy&outgoing=Healthy") == {healthy}
    assert ids("incoming=not_tested") == {untested}
    assert ids("act=not_used") == {healthy, failing, untested}
    assert ids("") == {healthy, failing, untested}
    [row] = [
        m for m in reader.get("/api/mailboxes/health?page_size=1000").json()["items"] if m["mailbox_id"] == failing
    ]
    assert (row["state"], row["incoming"], row["outgoing"], row["last_sync_error"]) == (
        "failing", "failing", "healthy", "timed out",
    )  # fmt: skip

    unknown = reader.get("/api/mailboxes/health?incoming=broken")
    assert unknown.status_code == 422
    assert "healthy, failing, disabled, not_tested, inactive, not_used" in unknown.json()["detail"]
    assert unknown.json()["errors"][0]["field"] == "query.incoming"
    overall = reader.get("/api/mailboxes/health?state=not_used")  # a workload's word, not the mailbox's
    assert overall.status_code == 422 and "one of: healthy, failing, disabled, not_tested, inactive" in overall.text


def test_the_summary_reads_a_snapshot_and_the_totals_at_a_fixed_cost(
    reader: TestClient, admin: TestClient, mail_world: MailWorld, isolated_store: Store, clock: Clock
) -> None:
    earlier = Totals(cycles=1, tracked=4, not_tracked=2, failed=1, reasons=Counter({"BounceNotCorrelated": 2}))
    isolated_store.sync_totals.add("a-mailbox", clock.now - timedelta(hours=3), earlier)  # in the day, not the hour
    first = reader.get("/api/summary").json()  # builds the snapshot once, if the timer has not yet
    states = first["mailbox_states"]
    mailboxes = len(list(isolated_store.mailboxes.query()))
    assert states["mailboxes"] == sum(states["states"]["incoming"].values()) == mailboxes
    day, hour = first["emails"]["last_day"], first["emails"]["last_hour"]
    assert {"reason": "BounceNotCorrelated", "count": 2} in day["top_not_tracked_reasons"]
    assert all(r["reason"] != "BounceNotCorrelated" for r in hour["top_not_tracked_reasons"])
    assert [day[k] - hour[k] for k in ("cycles", "tracked", "not_tracked", "failed")] == [1, 4, 2, 1]

    for _ in range(3):
        mail_world.new_user(admin)  # more mailboxes: the cost of a summary must not move
    isolated_store.sync_totals.add("a-mailbox", clock.now, Totals(cycles=1, tracked=5))  # after the snapshot
    counter = isolated_store.account.counter
    before = counter.total()
    second = reader.get("/api/summary").json()
    assert counter.total() - before == 2  # the snapshot row and one page of the newest totals
    assert second["mailbox_states"]["as_of"] == states["as_of"]  # the timer refreshes it, not the request
    assert second["mailbox_states"]["mailboxes"] == mailboxes
    for window in ("last_hour", "last_day"):  # the newest buckets are live
        assert second["emails"][window]["tracked"] == first["emails"][window]["tracked"] + 5


def test_the_snapshot_counts_states_and_failing_profiles(
    admin: TestClient, mail_world: MailWorld, isolated_store: Store, clock: Clock
) -> None:
    from sync.operations.summary import refresh_snapshot  # noqa: PLC0415

    profile = created(admin.post("/api/profiles", json={"name": "Failing", "server_type": 4}))
    failing = mail_world.new_user(admin, profile_id=profile["id"])
    bad = isolated_store.get_mailbox(failing)
    bad.last_sync_error_count, bad.last_sync_error_occurred_on = 3, clock.now - timedelta(minutes=5)
    isolated_store.mailboxes.update(bad)
    snapshot = refresh_snapshot(isolated_store, clock.now)
    [found] = [p for p in snapshot["failing_profiles"] if p["profile_id"] == profile["id"]]
    assert found == {
        "profile_id": profile["id"], "name": "Failing", "mailboxes": 1, "failing_last_hour": 1,
        "failing_share": 1.0, "over_alert_threshold": True,
    }  # fmt: skip
    assert isolated_store.sync_totals.snapshot() == snapshot


def test_the_day_is_the_snapshots_sum_plus_the_live_buckets_and_nothing_older(isolated_store: Store) -> None:
    now = datetime(2024, 5, 6, 12, 34, tzinfo=UTC)  # a day no other test writes to
    for ago, tracked in ((timedelta(minutes=30), 1), (timedelta(hours=5), 10), (timedelta(hours=25), 100)):
        isolated_store.sync_totals.add("m", now - ago, Totals(cycles=1, tracked=tracked))
    without_timer = email_figures(isolated_store, now, None)
    assert (without_timer["last_hour"]["tracked"], without_timer["last_day"]["tracked"]) == (1, 11)

    earlier = earlier_emails(isolated_store, now - timedelta(minutes=20))  # the timer ran 20 minutes ago
    assert earlier["totals"]["tracked"] == 1 + 10  # the buckets before its own, within its day
    isolated_store.sync_totals.add("m", now - timedelta(minutes=1), Totals(cycles=1, tracked=1000))
    figures = email_figures(isolated_store, now, earlier)
    assert (figures["last_hour"]["tracked"], figures["last_day"]["tracked"]) == (1001, 1011)
