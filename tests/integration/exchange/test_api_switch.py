"""A profile moved from EWS to Microsoft Graph (Exchange Online's EWS is retired on 2027-04-01): its mailboxes go
on through Graph where EWS left them, with the watermarks and links EWS wrote."""

from __future__ import annotations

import pytest

from devstack import TestCA
from devstack.entra import EntraMock
from sync.model import EmailServerProfile, Mailbox
from sync.model.options import ExchangeApi, ServerType
from tests.integration.exchange.conftest import ALICE, Deployment, exchange_double, message
from tests.integration.exchange.doubles import ExchangeDouble

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


def test_incoming_goes_on_through_graph_from_the_folder_states_ews_left(
    ews_deployment: Deployment, test_ca: TestCA, entra: EntraMock
) -> None:
    world = ews_deployment
    mailbox = world.user_mailbox(ALICE)
    before_raw, before_id = message(ALICE, subject="Tracked through EWS")
    world.server.deliver(ALICE, before_raw)
    world.run()
    assert len(world.emails(before_id)) == 1
    left_by_ews = _ews_states(world.store.get_mailbox(mailbox.id))
    assert left_by_ews and not any(s.startswith("http") for s in left_by_ews.values())

    with exchange_double("graph", test_ca, entra) as graph:
        graph.deliver(ALICE, before_raw)  # the same mailbox, now read through Graph
        after_raw, after_id = message(ALICE, subject="Arrived after the move")
        graph.deliver(ALICE, after_raw)
        _move_to_graph(world, graph)

        world.cycle(mailbox)

        stored = world.store.get_mailbox(mailbox.id)
        assert stored.enabled_for_incoming and stored.transient_failure_count == 0
        assert list(world.store.alerts.partition(mailbox.id)) == []
        assert len(world.emails(after_id)) == 1
        assert len(world.emails(before_id)) == 1  # tracked once, through EWS
        assert all(s.startswith("http") for s in _ews_states(stored).values())  # Graph's delta links now
