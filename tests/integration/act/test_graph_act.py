"""What only Graph does: Test & Enable of a default Exchange Online profile, series occurrences and exceptions,
invitations tied to attendees, throttling, expired delta links and the cost in calls of a cycle."""

from __future__ import annotations

from datetime import timedelta

import pytest

from devstack import TestCA
from devstack.entra import EntraMock
from sync.act.port import ActFolder, crm_ref
from sync.act.worker import ActWorker
from sync.auth.secrets import SecretBox
from sync.incoming.marks import TRACKED_CATEGORY
from sync.mail.graph.act import GraphActMailbox
from sync.mailboxes.test_enable import TestAndEnable
from sync.model.act import Recurrence, RecurrenceKind, Task
from sync.model.fields import utcnow
from sync.model.mailbox import Mailbox
from sync.model.options import (
    EntityType,
    IncomingDeliveryMethod,
    OutgoingDeliveryMethod,
    ParticipationType,
    TestStatus,
)
from sync.scheduling.act_scheduler import ActScheduler
from sync.settings import Settings
from sync.store import Store
from sync.store.act_links import ActLinks
from tests.graph.server import GraphServer
from tests.integration.act.conftest import ALICE, SOON, ActWorld, graph_world

pytestmark = pytest.mark.integration

CRM_REF = crm_ref(EntityType.APPOINTMENT, "rec-1")


@pytest.fixture
def act(
    isolated_store: Store, settings: Settings, test_ca: TestCA, graph_entra: EntraMock, graph_server: GraphServer
) -> ActWorld:
    """Only through Graph."""
    return graph_world(isolated_store, settings, test_ca, graph_entra, graph_server)


def exchange(act: ActWorld) -> GraphActMailbox:
    opened = act.connector.open_act(act.store.get_mailbox(act.mailbox.id), act.profile)
    assert isinstance(opened, GraphActMailbox)
    return opened


def meeting_fields(subject: str = "Review", required: tuple[str, ...] = ("bob@example.test",)) -> dict[str, object]:
    return {
        "subject": subject, "body": None, "location": None, "start": SOON, "end": SOON + timedelta(hours=1),
        "all_day": False, "time_zone": "W. Europe Standard Time", "free_busy": "Busy", "required": required,
        "optional": (), "recurrence": None, "reminder": True,
    }  # fmt: skip


def test_test_and_enable_of_a_default_exchange_online_profile_tests_act_through_graph(
    act: ActWorld, settings: Settings
) -> None:
    def act_only(m: Mailbox) -> None:
        m.incoming_method = IncomingDeliveryMethod.NONE
        m.outgoing_method = OutgoingDeliveryMethod.NONE

    act.store.mailboxes.modify(act.mailbox.id, "mailbox", act_only)
    assert act.profile.exchange_api is None and act.profile.uses_graph  # the default for Exchange Online

    report = TestAndEnable(act.store, SecretBox(settings.aes_key()), {}, act=act.connector).run(act.mailbox.id)

    assert report.act is TestStatus.SUCCESS, report.problems
    assert act.graph.calls["batch"] == 1 and act.graph.calls["todoLists.list"] == 1  # the probe: one batch
    assert act.store.get_mailbox(act.mailbox.id).enabled_for_act is True


def test_an_edited_occurrence_reads_as_its_series_and_a_tracked_series_becomes_one_record(act: ActWorld) -> None:
    start = SOON + timedelta(days=1)
    weekly = {
        "pattern": {"type": "weekly", "interval": 1, "daysOfWeek": ["monday", "thursday"]},
        "range": {"type": "numbered", "startDate": start.date().isoformat(), "numberOfOccurrences": 6},
    }
    series = act.graph.add_event(
        ALICE, "Weekly sync", start, start + timedelta(hours=1), categories=[TRACKED_CATEGORY], recurrence=weekly
    )
    assert act.cycle().created_in_crm == 1
    [record] = [
        a for a in act.store.appointments.query("subject eq 'Weekly sync'", {}) if a.owner_user_id == act.user.id
    ]
    assert act.link(EntityType.APPOINTMENT, record.id) == series
    assert record.recurrence is not None and record.recurrence.kind is RecurrenceKind.WEEKLY

    occurrence = exchange(act).client.get(
        f"/users/{ALICE}/events/{series}/instances",
        {
            "startDateTime": start.replace(tzinfo=None).isoformat(),
            "endDateTime": (start + timedelta(days=30)).replace(tzinfo=None).isoformat(),
        },
    )["value"][1]["id"]
    act.graph.edit(ALICE, occurrence, subject="Weekly sync (moved once)")  # an exception: no CRM counterpart

    report = act.cycle()

    assert report.created_in_crm == 0 and report.item_errors == 0
    assert act.store.appointments.get(record.id, "record").subject == "Weekly sync"  # the series is what syncs


def test_a_weekly_series_from_the_crm_reaches_graph_as_a_series_master_in_its_zone(act: ActWorld) -> None:
    series = Recurrence(kind=RecurrenceKind.WEEKLY, weekdays=[2, 4], start=SOON.date(), occurrences=4)
    meeting = act.meeting("Stand-up", time_zone="Pacific Standard Time", recurrence=series)

    act.cycle()

    [event] = act.graph.pim_items(ALICE, "event")
    assert event.id == act.link(EntityType.APPOINTMENT, meeting.id)
    assert event.data["start"]["timeZone"] == "Pacific Standard Time"
    assert event.data["recurrence"]["pattern"] == {
        "type": "weekly", "interval": 1, "daysOfWeek": ["tuesday", "thursday"], "firstDayOfWeek": "sunday"
    }  # fmt: skip


def test_invitations_go_only_when_asked_and_the_attendees_stay_either_way(act: ActWorld) -> None:
    mailbox = exchange(act)

    silent_id, _ = mailbox.create(EntityType.APPOINTMENT, meeting_fields("Silent"), CRM_REF)
    invited_id, _ = mailbox.create(EntityType.APPOINTMENT, meeting_fields("Invited"), CRM_REF, send_invitations=True)
    silent = mailbox.get(EntityType.APPOINTMENT, silent_id)

    assert act.graph.invitations(ALICE) == [(invited_id, "invitation")]
    assert silent is not None and silent.fields["required"] == ("bob@example.test",)  # kept without inviting

    mailbox.delete(EntityType.APPOINTMENT, invited_id, send_cancellations=True)
    mailbox.delete(EntityType.APPOINTMENT, silent_id)
    mailbox.delete(EntityType.APPOINTMENT, silent_id)  # gone already: done

    assert act.graph.invitations(ALICE)[1:] == [(invited_id, "cancellation:")]
    assert act.graph.pim_items(ALICE, "event") == []


def test_throttling_is_waited_out_within_the_budget_or_ends_the_cycle_until_retry_after(
    act: ActWorld, settings: Settings
) -> None:
    act.meeting("Throttled")
    act.graph.fail_next("event.create", 429, retry_after_s=0, count=2)  # twice, then through

    assert act.cycle().created_in_exchange == 1 and act.graph.calls["event.create"] == 3

    act.meeting("Later")
    act.graph.fail_next("event.create", 503, retry_after_s=3600, count=1)
    now = utcnow()
    item = ActScheduler(act.store, settings, lambda _: None, clock=lambda: now).claim(
        act.store.get_mailbox(act.mailbox.id), now
    )
    run = ActWorker(act.store, settings, act.connector, clock=lambda: now).run(item)

    assert run.status == "throttled"  # an hour is beyond the cycle's budget: back when Graph said
    assert (act.store.get_mailbox(act.mailbox.id).next_scheduled_act_sync_seconds or 0) >= 3600


def test_an_expired_delta_link_starts_a_full_round_without_duplicates(act: ActWorld) -> None:
    meeting = act.meeting("Kept")
    act.cycle()
    act.graph.expire_delta_links(ALICE)

    report = act.cycle()

    assert report.item_errors == 0 and report.created_in_crm == 0 and report.created_in_exchange == 0
    assert len(act.graph.pim_items(ALICE, "event")) == 1 and act.link(EntityType.APPOINTMENT, meeting.id)


def test_an_idle_cycle_costs_one_delta_request_per_folder(act: ActWorld) -> None:
    act.meeting("Settled")
    act.cycle()
    act.cycle()  # the round that sees our own create
    act.graph.reset_calls()

    assert act.cycle().changes == 0

    assert act.graph.calls["calendarView.delta"] == act.graph.calls["contacts.delta"] == 1
    assert act.graph.calls["tasks.delta"] == 1 and act.graph.calls["batch"] == 0


def test_a_throttled_part_of_a_batch_is_asked_again_alone(act: ActWorld) -> None:
    """Outlook runs four requests of a batch at once and may refuse the rest with 429: only those go again."""
    for day in range(3):
        start = SOON + timedelta(days=day + 1)
        act.graph.add_event(ALICE, f"Visit {day}", start, start + timedelta(hours=1), categories=[TRACKED_CATEGORY])
    act.graph.fail_next("event.get", 429, retry_after_s=0, count=2)

    report = act.cycle()

    assert report.created_in_crm == 3 and report.item_errors == 0
    assert act.graph.calls["event.get"] == 5 and act.graph.calls["batch"] == 2  # 3 read, 2 of them again


def test_a_todo_task_created_before_a_crash_is_found_by_its_linked_resource(
    act: ActWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """To Do tasks have no extended properties: the record stamp is our linkedResource, read on the next pull."""

    class Crash(BaseException):
        pass

    task = act.records.create(Task(subject="Send the quote", owner_user_id=act.user.id))
    original = ActLinks.attach

    def dies(self: ActLinks, *args: object, **kwargs: object) -> object:
        raise Crash

    monkeypatch.setattr(ActLinks, "attach", dies)
    with pytest.raises(Crash):
        act.cycle()
    monkeypatch.setattr(ActLinks, "attach", original)
    [created] = act.graph.pim_items(ALICE, "todoTask")
    assert created.linked[0]["externalId"] == crm_ref(EntityType.TASK, task.id)

    report = act.cycle()

    assert report.created_in_exchange == 0 and len(act.graph.pim_items(ALICE, "todoTask")) == 1
    assert act.link(EntityType.TASK, task.id) == created.id


def test_a_todo_task_with_the_tracking_category_becomes_a_crm_task(act: ActWorld) -> None:
    mailbox = exchange(act)
    lists = mailbox.client.get(f"/users/{ALICE}/todo/lists")["value"]
    tasks = f"/users/{ALICE}/todo/lists/{lists[0]['id']}/tasks"
    mailbox.client.post(tasks, {"title": "Call Carol back", "categories": [TRACKED_CATEGORY]})
    mailbox.client.post(tasks, {"title": "Buy milk"})

    report = act.cycle()

    assert report.created_in_crm == 1
    [tracked] = [t for t in act.store.tasks.query("subject eq 'Call Carol back'", {}) if t.owner_user_id == act.user.id]
    assert act.link(EntityType.TASK, tracked.id) is not None


def test_a_series_deleted_in_outlook_is_not_seen_as_deleted_through_graph(act: ActWorld) -> None:
    """Graph v1.0's calendarView delta names the removed occurrences by their own ids only, never the series
    master the link holds (docs/act.md): the record stays, and its next change finds the series gone."""
    series = Recurrence(kind=RecurrenceKind.DAILY, start=SOON.date(), occurrences=3)
    meeting = act.meeting("Daily check-in", recurrence=series)
    act.cycle()
    master = act.link(EntityType.APPOINTMENT, meeting.id)
    assert master is not None
    act.graph.remove(ALICE, master)

    report = act.cycle()

    assert (report.deleted_in_crm, report.item_errors) == (0, 0)
    assert act.store.appointments.find(meeting.id, "record") is not None
    fresh = act.store.appointments.get(meeting.id, "record")
    fresh.subject = "Daily check-in (renamed)"
    act.records.update(fresh)
    assert act.cycle().item_errors == 1  # the update finds the series gone, counted on the link and retried


def test_r_act_13_r_act_20_a_meeting_bob_organizes_keeps_him_as_organizer_through_graph(act: ActWorld) -> None:
    start = SOON + timedelta(days=1)
    act.graph.add_event(
        ALICE, "Supplier review", start, start + timedelta(hours=1), categories=[TRACKED_CATEGORY],
        _organizer={"name": "Bob", "address": "bob@fabrikam.test"},
        attendees=[{"type": "required", "emailAddress": {"address": ALICE}}],
    )  # fmt: skip

    assert act.cycle().created_in_crm == 1

    [record] = [
        a for a in act.store.appointments.query("subject eq 'Supplier review'", {}) if a.owner_user_id == act.user.id
    ]
    assert record.organizer is not None and record.organizer.address_used == "bob@fabrikam.test"
    assert [p.party for p in record.parties if p.participation is ParticipationType.REQUIRED_ATTENDEE] == [act.user]


def test_r_act_19_a_copy_carrying_our_stamp_is_not_tracked_again_through_graph(act: ActWorld) -> None:
    meeting = act.meeting("Kick-off")
    act.cycle()
    [original] = act.graph.pim_items(ALICE, "event")
    with act.graph.state.pim(ALICE) as pim:  # Outlook's copy keeps every property, the CRM's stamp too
        pim.add("event", "calendar", {**original.data, "categories": [TRACKED_CATEGORY]}, dict(original.extended))

    report = act.cycle()

    assert (report.copies_ignored, report.created_in_crm) == (1, 0)
    assert act.link(EntityType.APPOINTMENT, meeting.id) == original.id


def _changed_ids(mailbox: GraphActMailbox, state: str | None) -> tuple[set[str], str | None]:
    ids: set[str] = set()
    for page in mailbox.pages(ActFolder.CALENDAR, state):
        ids |= {c.item_id for c in page.changes}
        state = page.state
    return ids, state


def test_the_calendar_window_moves_on_after_a_month_without_losing_the_old_rounds_changes(act: ActWorld) -> None:
    now = utcnow()
    far = now + timedelta(days=3 * 365 + 200)  # beyond the window of a round that starts now
    far_event = act.graph.add_event(ALICE, "Far ahead", far, far + timedelta(hours=1))
    client = exchange(act).client
    first, state = _changed_ids(GraphActMailbox(client, ALICE, clock=lambda: now), None)
    near = act.graph.add_event(ALICE, "Next week", now + timedelta(days=7), now + timedelta(days=7, hours=1))

    later, moved = _changed_ids(GraphActMailbox(client, ALICE, clock=lambda: now + timedelta(days=400)), state)

    assert far_event not in first and {near, far_event} <= later  # the old round's change, then the new window
    assert (
        state is not None
        and moved is not None
        and moved.split("|")[1] == (now + timedelta(days=400)).date().isoformat()
    )


def test_a_state_ews_left_behind_starts_a_full_round_through_graph(act: ActWorld) -> None:
    event = act.graph.add_event(ALICE, "Kept", SOON, SOON + timedelta(hours=1))

    found, state = _changed_ids(exchange(act), "H4sIAAAAAAAEAO29B2AcSZYlJi9tynt")  # an EWS SyncFolderItems state

    assert event in found and state is not None and state.startswith("graph|")


def test_an_update_without_invitations_never_takes_invited_attendees_off(act: ActWorld) -> None:
    """Taking attendees off a meeting sends them a cancellation: once invited, they stay attendees."""
    mailbox = exchange(act)
    item_id, change_key = mailbox.create(
        EntityType.APPOINTMENT, meeting_fields("Invited"), CRM_REF, send_invitations=True
    )
    silent_id, silent_key = mailbox.create(EntityType.APPOINTMENT, meeting_fields("Silent"), CRM_REF)

    changes = {"subject": "Invited (moved)", "required": ("bob@example.test", "carol@example.test"), "optional": ()}
    mailbox.update(EntityType.APPOINTMENT, item_id, change_key, changes)
    mailbox.update(EntityType.APPOINTMENT, silent_id, silent_key, changes | {"subject": "Silent (moved)"})

    invited, silent = (next(e for e in act.graph.pim_items(ALICE, "event") if e.id == i) for i in (item_id, silent_id))
    assert [a["emailAddress"]["address"] for a in invited.data["attendees"]] == [
        "bob@example.test",
        "carol@example.test",
    ]
    assert silent.data["attendees"] == []
    assert [what for event, what in act.graph.invitations(ALICE)] == ["invitation", "update"]  # no cancellation
