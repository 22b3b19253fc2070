"""A profile moved from EWS to Microsoft Graph (Exchange Online's EWS is retired on 2027-04-01): its mailboxes go
on through Graph where EWS left them, with the watermarks and links EWS wrote."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from devstack import TestCA
from devstack.entra import EntraMock
from sync.api.context import ApiContext
from sync.health.enable_alerts import CODE_TEST_SUCCEEDED
from sync.incoming.marks import TRACKED_CATEGORY
from sync.mail.graph.act import STAMP
from sync.mail.graph.ews_ids import rest_spellings
from sync.mail.port import INBOX, SENT_ITEMS
from sync.model import EmailServerProfile, Mailbox, MailboxTrackingFolder
from sync.model.options import (
    EntityType,
    ExchangeApi,
    FolderOnboardingStatus,
    ServerType,
    TestStatus,
)
from sync.scheduling.act_scheduler import schedule_act_now
from tests.ews.server import EwsServer
from tests.ews.state import Item
from tests.integration.act.remote import GraphRemote
from tests.integration.exchange.conftest import ALICE, Deployment, exchange_double, message
from tests.integration.exchange.doubles import EwsDouble, ExchangeDouble, GraphDouble

pytestmark = pytest.mark.integration


def _move_to_graph(world: Deployment, graph: ExchangeDouble) -> EmailServerProfile:
    """What an administrator does: the same profile, now Exchange Online through Graph."""
    profile = world.store.get_profile(world.profile.id)
    profile.server_type = ServerType.EXCHANGE_ONLINE
    profile.exchange_api = ExchangeApi.GRAPH
    profile.graph_url = graph.url
    profile.default_server_location = None
    moved = world.store.profiles.update(profile)
    world.app.services.worker.cache.put(("profile", moved.id), moved)  # as once the worker's minute of cache is over
    return moved


def _ews_states(mailbox: Mailbox) -> dict[str, str]:
    return {key: mark.sync_state for key, mark in mailbox.watermarks.items() if mark.sync_state}


@pytest.mark.parametrize("tested", [False, True], ids=["moved", "moved-then-tested"])
def test_incoming_goes_on_through_graph_from_the_folder_states_ews_left(
    ews_deployment: Deployment, test_ca: TestCA, entra: EntraMock, tested: bool
) -> None:
    """Moved alone, or moved then tested (Test & Enable starts the Inbox afresh, R-TE-9; Sent Items keeps EWS's
    state)."""
    world = ews_deployment
    org = world.store.get_organization()
    org.auto_track_sent_folder_items = True
    world.store.organization.upsert(org)
    mailbox = world.user_mailbox(ALICE)
    before_raw, before_id = message(ALICE, subject="Tracked through EWS")
    world.server.deliver(ALICE, before_raw)
    world.run()
    assert len(world.emails(before_id)) == 1
    left_by_ews = _ews_states(world.store.get_mailbox(mailbox.id))
    assert {INBOX, SENT_ITEMS} <= set(left_by_ews) and not any(s.startswith("http") for s in left_by_ews.values())

    with exchange_double("graph", test_ca, entra) as graph:
        graph.deliver(ALICE, before_raw)  # the same mailbox, now read through Graph
        after_raw, after_id = message(ALICE, subject="Arrived after the move")
        graph.deliver(ALICE, after_raw)
        sent_raw, sent_id = message("carol@fabrikam.test", sender=ALICE, subject="Sent from Outlook after the move")
        graph.deliver(ALICE, sent_raw, folder="sentitems")
        _move_to_graph(world, graph)
        if tested:
            report = ApiContext(world.settings, lambda: world.store).test_and_enable().run(mailbox.id)
            assert report.incoming is TestStatus.SUCCESS

        world.cycle(mailbox)

        stored = world.store.get_mailbox(mailbox.id)
        assert stored.enabled_for_incoming and stored.transient_failure_count == 0
        assert [a.code for a in world.store.alerts.partition(mailbox.id)] == ([CODE_TEST_SUCCEEDED] if tested else [])
        assert len(world.emails(after_id)) == 1
        assert len(world.emails(sent_id)) == 1
        assert len(world.emails(before_id)) == 1  # tracked once, through EWS
        assert all(s.startswith("http") for s in _ews_states(stored).values())  # Graph's delta links now


def test_tracking_rules_follow_their_folders_to_the_ids_graph_gives_them(
    ews_deployment: Deployment, test_ca: TestCA, entra: EntraMock
) -> None:
    world = ews_deployment
    mailbox = world.user_mailbox(ALICE)
    folder = world.server.create_folder(ALICE, "inbox", "Fabrikam deal")
    rule = world.store.tracking_folders.insert(MailboxTrackingFolder(mailbox_id=mailbox.id, exchange_folder_id=folder))
    world.run()  # through EWS: the folder's hierarchy state kept, the rule onboarded
    assert {"+", "/"} & set(folder)  # an EWS id, which Graph spells otherwise

    with exchange_double("graph", test_ca, entra) as graph:
        assert isinstance(graph, GraphDouble)
        same_folder = graph.server.create_folder(ALICE, "Fabrikam deal", "inbox", folder_id=rest_spellings(folder)[0])
        raw, message_id = message(ALICE, sender="stranger@elsewhere.test", subject="proposal")
        graph.deliver(ALICE, raw, folder=same_folder)
        _move_to_graph(world, graph)

        world.cycle(mailbox)

        moved = world.store.tracking_folders.get(mailbox.id, rule.id)
        assert (moved.exchange_folder_id, moved.is_enabled) == (same_folder, True)
        assert moved.folder_onboarding_status is FolderOnboardingStatus.ONBOARDED
        assert len(world.emails(message_id)) == 1  # the folder is read through Graph


def _linked_items(world: Deployment, mailbox: Mailbox) -> dict[str, str]:
    """Record id -> the Exchange item id its link holds."""
    links = world.store.act_links.of_type(mailbox.id, EntityType.APPOINTMENT)
    return {link.object_id: link.exchange_entry_id or "" for link in links}


def _appointments(world: Deployment, subject: str) -> list[str]:
    return [a.id for a in world.store.appointments.query("subject eq @s", {"s": subject})]


def test_act_links_made_through_ews_follow_their_items_to_the_ids_graph_gives_them(
    ews_deployment: Deployment, test_ca: TestCA, entra: EntraMock
) -> None:
    world = ews_deployment
    mailbox = world.act_mailbox(ALICE)
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)
    meeting = world.meeting(mailbox, "Made in the CRM", start)
    ews = _ews(world)
    ews.create_calendar_item(
        ALICE, subject="Tracked in Outlook", start=start + timedelta(days=1), end=start + timedelta(days=1, hours=1),
        categories=[TRACKED_CATEGORY],
    )  # fmt: skip
    world.run()  # ACT through EWS: the CRM's meeting made in Exchange, the Outlook one tracked to the CRM
    [tracked] = _appointments(world, "Tracked in Outlook")
    through_ews = _linked_items(world, mailbox)
    assert set(through_ews) == {meeting.id, tracked}

    with exchange_double("graph", test_ca, entra) as graph:
        assert isinstance(graph, GraphDouble)
        graph_ids: dict[str, str] = {}
        for item in ews.items(ALICE, "calendar"):  # the same calendar, as Graph names its items
            stamps = [str(value) for value in item.extended_properties.values()]
            spelling = 1 if item.subject == "Tracked in Outlook" else 0  # either URL-safe spelling is found
            graph_ids[item.item_id] = rest_spellings(item.item_id)[spelling]
            graph.server.add_event(
                ALICE, item.subject or "", _moment(item, "start"), _moment(item, "end"),
                categories=item.categories, item_id=graph_ids[item.item_id],
                extended={STAMP: stamps[0]} if stamps else None,
            )  # fmt: skip
        _move_to_graph(world, graph)

        schedule_act_now(world.store, mailbox.id)
        world.run()

        [cycle, _] = world.store.cycle_history.recent(mailbox.id, "act")
        assert (cycle.outcome, cycle.failed) == ("processed", 0)
        assert _appointments(world, "Tracked in Outlook") == [tracked]  # not tracked a second time...
        assert list(world.store.act_links.conflicts_of(mailbox.id)) == []  # ...nor held as clashing with itself
        assert _linked_items(world, mailbox) == {
            record: graph_ids[item_id] for record, item_id in through_ews.items()
        }  # not a copy of a linked item either: the links hold Graph's ids
        remote = GraphRemote(graph.server)
        graph_id = _linked_items(world, mailbox)[meeting.id]
        remote.edit(graph_id, subject="Made in the CRM, moved in Outlook")
        schedule_act_now(world.store, mailbox.id)
        world.run()

        assert world.store.appointments.get(meeting.id, "record").subject == "Made in the CRM, moved in Outlook"


def _ews(world: Deployment) -> EwsServer:
    assert isinstance(world.server, EwsDouble)
    return world.server.server


def _moment(item: Item, name: str) -> datetime:
    found = item.value(name, datetime)
    assert found is not None
    return found
