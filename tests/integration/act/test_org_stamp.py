"""R-TE-7: an Exchange mailbox synchronizes appointments, contacts and tasks with one organization only.

The claim lives where Exchange keeps it (extended properties of the mailbox's Calendar folder, on the EWS and
on the Graph test server: each test runs through both APIs); "another organization" is a claim written there
directly, as another deployment would. Test & Enable and the ACT worker run on Azurite with injected clocks.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from sync.act.org_stamp import OTHER_ORGANIZATION_CODE
from sync.act.worker import ActWorker
from sync.auth.secrets import SecretBox
from sync.health.alerts import CODE_ACT_OTHER_ORGANIZATION
from sync.mail.ews.org_stamp import PROPERTY_SET, ActLastSyncOn, ActSyncOrgId
from sync.mail.graph.act_org_stamp import LAST_SYNC_ON as GRAPH_LAST_SYNC_ON
from sync.mail.graph.act_org_stamp import ORG_ID as GRAPH_ORG_ID
from sync.mailboxes.test_enable import TestAndEnable, TestReport
from sync.model.fields import utcnow
from sync.model.mailbox import Mailbox
from sync.model.options import IncomingDeliveryMethod, OutgoingDeliveryMethod, TestStatus
from sync.scheduling.act_scheduler import ActScheduler
from sync.settings import Settings
from tests.ews.values import ExtendedField
from tests.integration.act.conftest import ALICE, ActWorld

ORG_FIELD = ExtendedField("String", PROPERTY_SET, ActSyncOrgId.property_name)
SYNCED_FIELD = ExtendedField("String", PROPERTY_SET, ActLastSyncOn.property_name)
OTHER_ORG = "0b7e2c1d-other-organization"
START = utcnow().replace(microsecond=0)


@pytest.fixture
def act(act_any: ActWorld) -> ActWorld:
    return act_any


def _act_only(act: ActWorld) -> None:
    def change(m: Mailbox) -> None:
        m.incoming_method = IncomingDeliveryMethod.NONE
        m.outgoing_method = OutgoingDeliveryMethod.NONE

    act.store.mailboxes.modify(act.mailbox.id, "mailbox", change)


def _test_and_enable(act: ActWorld, settings: Settings, now: datetime) -> TestReport:
    box = SecretBox(settings.aes_key())
    return TestAndEnable(act.store, box, {}, act=act.connector, clock=lambda: now).run(act.mailbox.id)


def _stamp_in_exchange(act: ActWorld) -> tuple[object, object]:
    if act.remote.name == "graph":
        with act.graph.state.pim(ALICE) as pim:
            return pim.calendar_extended.get(GRAPH_ORG_ID), pim.calendar_extended.get(GRAPH_LAST_SYNC_ON) or None
    properties = act.ews.mailbox(ALICE).folder("calendar").extended_properties
    return properties.get(ORG_FIELD), properties.get(SYNCED_FIELD)


def _claimed_by_another_organization(act: ActWorld) -> None:
    if act.remote.name == "graph":
        with act.graph.state.pim(ALICE) as pim:
            pim.calendar_extended.update({GRAPH_ORG_ID: OTHER_ORG, GRAPH_LAST_SYNC_ON: START.isoformat()})
        return
    stamp = {ORG_FIELD: OTHER_ORG, SYNCED_FIELD: START.isoformat()}
    act.ews.mailbox(ALICE).set_folder_properties("calendar", stamp)


def _org_alerts(act: ActWorld) -> list[str]:
    return [a.text for a in act.store.alerts.partition(act.mailbox.id) if a.code == CODE_ACT_OTHER_ORGANIZATION]


def _cycle_at(act: ActWorld, settings: Settings, now: datetime) -> str:
    mailbox = act.store.get_mailbox(act.mailbox.id)
    item = ActScheduler(act.store, settings, lambda _: None, clock=lambda: now).claim(mailbox, now)
    return ActWorker(act.store, settings, act.connector, clock=lambda: now).run(item).status


def test_r_te_7_a_mailbox_synced_by_another_organization_is_refused(act: ActWorld, settings: Settings) -> None:
    _act_only(act)
    _claimed_by_another_organization(act)

    report = _test_and_enable(act, settings, START)

    assert report.act is TestStatus.FAILURE
    assert [p.code for p in report.problems] == [OTHER_ORGANIZATION_CODE], report.problems
    assert act.store.get_mailbox(act.mailbox.id).enabled_for_act is False
    [text] = _org_alerts(act)
    assert "configured with another organization" in text
    assert "Sync items with Exchange from this org only" in text
    assert _stamp_in_exchange(act) == (OTHER_ORG, START.isoformat())  # the other organization keeps it


def test_r_te_7_a_mailbox_synced_by_another_organization_the_override_takes_it_over(
    act: ActWorld, settings: Settings
) -> None:
    _act_only(act)
    _claimed_by_another_organization(act)
    org = act.store.get_organization()
    org.act_sync_this_org_only_override = True
    act.store.organization.upsert(org)

    report = _test_and_enable(act, settings, START + timedelta(minutes=1))

    assert report.act is TestStatus.SUCCESS, report.problems
    ours = act.store.get_organization().organization_id
    assert ours and ours != OTHER_ORG
    assert _stamp_in_exchange(act) == (ours, (START + timedelta(minutes=1)).isoformat())
    assert _org_alerts(act) == []


def test_r_te_7_our_own_stamp_passes_and_is_refreshed(act: ActWorld, settings: Settings) -> None:
    _act_only(act)
    assert _test_and_enable(act, settings, START).act is TestStatus.SUCCESS
    ours = act.store.get_organization().organization_id
    assert _stamp_in_exchange(act) == (ours, START.isoformat())

    assert _test_and_enable(act, settings, START + timedelta(minutes=5)).act is TestStatus.SUCCESS  # ours passes
    assert _cycle_at(act, settings, START + timedelta(minutes=30)) == "processed"
    assert _stamp_in_exchange(act) == (ours, START.isoformat())  # fresh: no write within the hour

    later = START + timedelta(minutes=61)
    assert _cycle_at(act, settings, later) == "processed"
    assert _stamp_in_exchange(act) == (ours, later.isoformat())  # refreshed at most once an hour
    assert act.store.get_organization().organization_id == ours  # generated once

    _claimed_by_another_organization(act)  # another organization took the mailbox since
    assert _cycle_at(act, settings, later + timedelta(minutes=5)) == "disabled"
    assert act.store.get_mailbox(act.mailbox.id).enabled_for_act is False
    [text] = _org_alerts(act)
    assert "configured with another organization" in text
    assert _stamp_in_exchange(act)[0] == OTHER_ORG  # a cycle never takes it back
