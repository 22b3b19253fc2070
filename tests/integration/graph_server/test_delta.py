"""Delta sync of a folder and of the folder tree: paging, resuming from a saved link, tombstones, expiry."""

from __future__ import annotations

from typing import Any

import pytest

from sync.mail.graph.client import BatchRequest, GraphClient
from sync.mail.graph.errors import DeltaExpired
from tests.graph.server import GraphServer
from tests.integration.graph_server.conftest import new_mime

pytestmark = pytest.mark.integration

PAGE_OF_TWO = {"Prefer": "odata.maxpagesize=2"}
SELECT = {"$select": "subject,internetMessageId,categories"}


def inbox_delta(mailbox: str) -> str:
    return f"/users/{mailbox}/mailFolders/inbox/messages/delta"


def one_round(client: GraphClient, start: str, params: dict[str, str] | None = None) -> tuple[list[Any], str]:
    """All pages of one delta round: each page's items, and the deltaLink of the last page."""
    pages = list(client.pages(start, params, PAGE_OF_TWO))
    assert all("@odata.nextLink" in page for page in pages[:-1])
    assert "@odata.nextLink" not in pages[-1]
    return [page["value"] for page in pages], pages[-1]["@odata.deltaLink"]


def test_five_messages_come_in_pages_of_two_and_a_saved_delta_link_resumes(
    graph_server: GraphServer, client: GraphClient, mailbox: str
) -> None:
    sent_ids = []
    for n in range(5):
        mime, message_id = new_mime(f"message {n}")
        graph_server.deliver(mailbox, mime)
        sent_ids.append(message_id)

    pages, delta_link = one_round(client, inbox_delta(mailbox), SELECT)

    assert [len(items) for items in pages] == [2, 2, 1]
    assert sorted(item["internetMessageId"] for items in pages for item in items) == sorted(sent_ids)
    assert graph_server.calls["messages.delta"] == 3

    mime, newest = new_mime("after the round")
    graph_server.deliver(mailbox, mime)
    graph_server.reset_calls()
    pages, second_link = one_round(client, delta_link)
    assert [[item["internetMessageId"] for item in items] for items in pages] == [[newest]]
    assert graph_server.calls == {"messages.delta": 1}

    pages, _ = one_round(client, second_link)
    assert pages == [[]]


def test_select_of_the_first_request_holds_for_every_page(
    graph_server: GraphServer, client: GraphClient, mailbox: str
) -> None:
    for n in range(3):
        graph_server.deliver(mailbox, new_mime(f"m{n}")[0])

    pages, _ = one_round(client, inbox_delta(mailbox), {"$select": "subject"})

    keys = {frozenset(item) for items in pages for item in items}
    assert keys == {frozenset({"@odata.type", "@odata.etag", "id", "subject"})}


def test_a_moved_message_is_removed_from_the_inbox_and_appears_in_the_destination(
    graph_server: GraphServer, client: GraphClient, mailbox: str
) -> None:
    keep, moved_mime = graph_server.deliver(mailbox, new_mime("stays")[0]), new_mime("moves")
    moved = graph_server.deliver(mailbox, moved_mime[0])
    archive = graph_server.create_folder(mailbox, "Archive")
    _, inbox_link = one_round(client, inbox_delta(mailbox))
    _, archive_link = one_round(client, f"/users/{mailbox}/mailFolders/{archive}/messages/delta")

    new_copy = client.post(f"/users/{mailbox}/messages/{moved}/move", {"destinationId": archive})

    assert new_copy is not None and new_copy["id"] != moved and new_copy["parentFolderId"] == archive
    pages, _ = one_round(client, inbox_link)
    assert pages == [[{"@odata.type": "#microsoft.graph.message", "id": moved, "@removed": {"reason": "deleted"}}]]
    pages, _ = one_round(client, archive_link)
    assert [(item["id"], item["internetMessageId"]) for item in pages[0]] == [(new_copy["id"], moved_mime[1])]
    assert [m.id for m in graph_server.messages(mailbox)] == [keep]


def test_a_deleted_message_is_removed_and_lands_in_deleted_items(
    graph_server: GraphServer, client: GraphClient, mailbox: str
) -> None:
    doomed = graph_server.deliver(mailbox, new_mime("doomed")[0])
    _, link = one_round(client, inbox_delta(mailbox))

    [answer] = client.batch([BatchRequest("DELETE", f"/users/{mailbox}/messages/{doomed}")])

    assert answer.status == 204
    pages, _ = one_round(client, link)
    assert [item.get("@removed") for item in pages[0]] == [{"reason": "deleted"}]
    assert [m.envelope.subject for m in graph_server.messages(mailbox, "deleteditems")] == ["doomed"]


def test_an_expired_delta_link_is_delta_expired_and_a_new_round_lists_the_folder_again(
    graph_server: GraphServer, client: GraphClient, mailbox: str
) -> None:
    for n in range(3):
        graph_server.deliver(mailbox, new_mime(f"m{n}")[0])
    _, link = one_round(client, inbox_delta(mailbox))

    graph_server.expire_delta_links(mailbox)
    with pytest.raises(DeltaExpired) as expired:
        one_round(client, link)

    assert expired.value.code == "syncStateNotFound"
    assert "410" in str(expired.value)
    pages, _ = one_round(client, inbox_delta(mailbox))
    assert sum(len(items) for items in pages) == 3


def test_an_expired_next_link_in_the_middle_of_a_round_is_delta_expired_too(
    graph_server: GraphServer, client: GraphClient, mailbox: str
) -> None:
    for n in range(3):
        graph_server.deliver(mailbox, new_mime(f"m{n}")[0])
    pages = client.pages(inbox_delta(mailbox), None, PAGE_OF_TWO)
    assert len(next(pages)["value"]) == 2

    graph_server.expire_delta_links(mailbox)

    with pytest.raises(DeltaExpired):
        next(pages)


def test_the_folder_tree_delta_lists_every_folder_then_only_what_changed(
    graph_server: GraphServer, client: GraphClient, mailbox: str
) -> None:
    start = f"/users/{mailbox}/mailFolders/delta"
    first = [item for page in client.pages(start, None, PAGE_OF_TWO) for item in page["value"]]
    assert {item["displayName"] for item in first} == {"Inbox", "Drafts", "Sent Items", "Deleted Items"}
    link = list(client.pages(start))[-1]["@odata.deltaLink"]

    projects = graph_server.create_folder(mailbox, "Projects")
    graph_server.rename_folder(mailbox, "inbox", "Incoming")
    graph_server.move_folder(mailbox, projects, "inbox")

    changed = [item for page in client.pages(link) for item in page["value"]]
    assert [(item["displayName"], item["parentFolderId"]) for item in changed] == [
        ("Incoming", graph_server.folder_id(mailbox, "msgfolderroot")),
        ("Projects", graph_server.folder_id(mailbox, "inbox")),
    ]
