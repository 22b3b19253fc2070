"""R-IN-10: SYNC_RETRIEVAL_BATCH_SIZE sets how many items one Exchange listing request returns (EWS
SyncFolderItems, Graph messages delta), through the deployed app and the EWS and Graph test servers."""

from __future__ import annotations

import pytest

from tests.integration.exchange.conftest import ALICE, Deployment, message
from tests.integration.exchange.doubles import Op

pytestmark = pytest.mark.integration


def test_r_in_10_the_retrieval_batch_size_sets_the_items_per_listing_request(deployment: Deployment) -> None:
    services = deployment.app.services
    services.settings = services.settings.model_copy(update={"retrieval_batch_size": 4})  # before the worker is built
    deployment.user_mailbox(ALICE)
    ids = []
    for n in range(10):
        raw, message_id = message(ALICE, subject=f"m{n}")
        deployment.server.deliver(ALICE, raw)
        ids.append(message_id)
    deployment.server.reset_calls()

    deployment.run()

    assert all(len(deployment.emails(i)) == 1 for i in ids)
    assert deployment.server.count(Op.LIST) == 3  # pages of 4, 4 and 2; one page with the default of 100
