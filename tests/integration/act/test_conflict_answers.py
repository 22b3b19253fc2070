"""R-ACT-24: the user answers a scheduling-conflict question through the API; the next ACT cycle carries it out."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from sync.api.app import create_app
from sync.api.auth import API_KEY_HEADER, new_api_key
from sync.incoming.marks import TRACKED_CATEGORY
from sync.settings import Settings
from tests.integration.act.conftest import ALICE, SOON, ActWorld

pytestmark = pytest.mark.integration

ADMIN_KEY, ADMIN_DIGEST = new_api_key()


@pytest.fixture
def api(act: ActWorld, settings: Settings) -> Iterator[TestClient]:
    own = settings.model_copy(update={"api_keys": ADMIN_DIGEST, "storage_prefix": act.store.account.prefix})
    with TestClient(create_app(own, lambda: act.store), headers={API_KEY_HEADER: ADMIN_KEY}) as client:
        yield client


def _held(act: ActWorld, api: TestClient, subject: str) -> dict[str, object]:
    """Alice is busy; she tracks an overlapping Outlook appointment: it is held and the question is listed."""
    act.meeting("Board meeting")
    act.cycle()
    act.ews.create_calendar_item(
        ALICE, subject=subject, start=SOON + timedelta(minutes=30), end=SOON + timedelta(minutes=90),
        categories=[TRACKED_CATEGORY],
    )  # fmt: skip
    assert act.cycle().conflicts_held == 1
    response = api.get(f"/api/mailboxes/{act.mailbox.id}/scheduling-conflicts")
    assert response.status_code == 200, response.text
    [held] = response.json()
    assert (held["subject"], held["save_anyway"]) == (subject, None)
    return dict(held)


def _saved(act: ActWorld, subject: str) -> list[str]:
    return [a.subject for a in act.store.appointments.query("subject eq @s", {"s": subject})]


def test_r_act_24_answering_yes_through_the_api_saves_the_appointment_on_the_next_cycle(
    act: ActWorld, api: TestClient
) -> None:
    held = _held(act, api, "Dentist")

    answered = api.post(
        f"/api/mailboxes/{act.mailbox.id}/scheduling-conflicts/{held['id']}/answer", json={"save_anyway": True}
    )

    assert answered.status_code == 200, answered.text
    assert answered.json()["save_anyway"] is True and answered.json()["decided_on"] is not None
    [alert] = list(act.store.alerts.query("mailbox_id eq @m", {"m": act.mailbox.id}))
    assert (alert.code_name, alert.dismissed) == ("ExchangeSyncSchedulingConflictsError", True)  # answered
    assert _saved(act, "Dentist") == []  # the answer is carried out by the cycle, not by the request
    assert act.cycle().created_in_crm == 1
    assert _saved(act, "Dentist") == ["Dentist"]
    assert api.get(f"/api/mailboxes/{act.mailbox.id}/scheduling-conflicts").json() == []  # acted on: gone


def test_r_act_24_answering_no_through_the_api_drops_the_appointment(act: ActWorld, api: TestClient) -> None:
    held = _held(act, api, "Haircut")

    answered = api.post(
        f"/api/mailboxes/{act.mailbox.id}/scheduling-conflicts/{held['id']}/answer", json={"save_anyway": False}
    )

    assert answered.status_code == 200, answered.text
    report = act.cycle()
    assert (report.created_in_crm, report.conflicts_held) == (0, 0)  # not saved, and not asked again
    assert _saved(act, "Haircut") == []
    assert api.get(f"/api/mailboxes/{act.mailbox.id}/scheduling-conflicts").json() == []


def test_r_act_24_an_unknown_conflict_or_mailbox_is_404(act: ActWorld, api: TestClient) -> None:
    answer = {"save_anyway": True}
    assert api.post(f"/api/mailboxes/{act.mailbox.id}/scheduling-conflicts/nope/answer", json=answer).status_code == 404
    assert api.get("/api/mailboxes/nope/scheduling-conflicts").status_code == 404
