"""The repository against real Azurite: CRUD, ETag conflicts, insert-if-absent, batches, paging, limits."""

from __future__ import annotations

import threading
import uuid

import pytest

from sync.errors import AlreadyExists, ConcurrencyConflict, EntityTooLarge, NotFound, StoreError
from sync.model import Contact, Mailbox, QueueItem
from sync.model.fields import EntityRef
from sync.model.mailbox import FolderWatermark
from sync.model.options import EntityType
from sync.store import Op, Store

pytestmark = pytest.mark.integration


def _contact(**changes: object) -> Contact:
    return Contact.model_validate({"last_name": "Doe", "email_address1": "jd@example.test", **changes})


def _item(queue_id: str, n: int = 0) -> QueueItem:
    return QueueItem(
        queue_id=queue_id, object=EntityRef(type=EntityType.EMAIL, id=str(uuid.uuid4())), title=f"item {n}"
    )


def test_insert_get_round_trip_sets_etag(store: Store) -> None:
    contact = store.contacts.insert(_contact(first_name="Jane"))
    assert contact.etag is not None
    loaded = store.contacts.get(contact.id, "record")
    assert loaded == contact
    assert loaded.etag == contact.etag


@pytest.mark.parametrize("key", ["a/b", "a\\b", "a#b", "a?b", "a\x00b", "a\x7fb"])
def test_a_key_no_entity_can_have_is_not_found_without_asking_storage(store: Store, key: str) -> None:
    """Azurite answers a '/' in a point read with a 500 the SDK retries for minutes: an API input must not."""
    before = store.account.counter.total()
    assert store.contacts.find(key, "record") is None
    assert store.contacts.find("p", key) is None
    assert store.account.counter.total() == before


def test_missing_record_is_not_found(store: Store) -> None:
    assert store.contacts.find("nope", "record") is None
    with pytest.raises(NotFound):
        store.contacts.get("nope", "record")


def test_insert_is_insert_if_absent(store: Store) -> None:
    contact = store.contacts.insert(_contact())
    with pytest.raises(AlreadyExists):
        store.contacts.insert(_contact(id=contact.id))


def test_update_with_stale_etag_is_a_conflict(store: Store) -> None:
    contact = store.contacts.insert(_contact())
    first = store.contacts.get(contact.id, "record")
    second = store.contacts.get(contact.id, "record")
    first.first_name = "A"
    store.contacts.update(first)
    second.first_name = "B"
    with pytest.raises(ConcurrencyConflict):
        store.contacts.update(second)
    assert store.contacts.get(contact.id, "record").first_name == "A"


def test_update_needs_a_read_copy(store: Store) -> None:
    with pytest.raises(StoreError, match="ETag"):
        store.contacts.update(_contact())


def test_update_bumps_version_and_modified_on(store: Store) -> None:
    contact = store.contacts.insert(_contact())
    created_version, created_modified = contact.version_number, contact.modified_on
    contact.first_name = "X"
    store.contacts.update(contact)
    loaded = store.contacts.get(contact.id, "record")
    assert loaded.version_number == created_version + 1
    assert loaded.modified_on >= created_modified


def test_modify_retries_until_every_change_lands(store: Store) -> None:
    """Ten threads each add one to a counter; ETag retries make every increment count."""
    owner = EntityRef(type=EntityType.SYSTEM_USER, id=str(uuid.uuid4()))
    mailbox = store.mailboxes.insert(Mailbox(name="m", email_address="m@example.test", owner=owner))

    def bump() -> None:
        def change(m: Mailbox) -> None:
            m.no_email_count += 1

        store.mailboxes.modify(mailbox.id, "mailbox", change, attempts=50)

    threads = [threading.Thread(target=bump) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.get_mailbox(mailbox.id).no_email_count == 10


def test_delete_with_stale_etag_is_a_conflict(store: Store) -> None:
    contact = store.contacts.insert(_contact())
    stale = store.contacts.get(contact.id, "record")
    contact.first_name = "changed"
    store.contacts.update(contact)
    with pytest.raises(ConcurrencyConflict):
        store.contacts.delete(stale)
    store.contacts.delete(contact)
    assert store.contacts.find(contact.id, "record") is None


def test_transaction_of_250_is_chunked_to_100(store: Store) -> None:
    queue_id = str(uuid.uuid4())
    items = [_item(queue_id, n) for n in range(250)]
    before = store.account.counter.total("table")
    store.queue_items.transact([(Op.INSERT, item) for item in items])
    assert store.account.counter.total("table") - before == 3  # 100 + 100 + 50
    assert len(list(store.queue_items.partition(queue_id))) == 250
    assert all(item.etag for item in items)


def test_transaction_rolls_back_a_failing_chunk(store: Store) -> None:
    queue_id = str(uuid.uuid4())
    existing = store.queue_items.insert(_item(queue_id))
    batch = [(Op.INSERT, _item(queue_id, n)) for n in range(5)] + [
        (Op.INSERT, _item(queue_id).model_copy(update={"id": existing.id}))
    ]
    with pytest.raises(AlreadyExists):
        store.queue_items.transact(batch)
    assert [i.id for i in store.queue_items.partition(queue_id)] == [existing.id]


def test_transaction_update_checks_etags(store: Store) -> None:
    queue_id = str(uuid.uuid4())
    item = store.queue_items.insert(_item(queue_id))
    stale = store.queue_items.get(queue_id, item.id)
    item.title = "new"
    store.queue_items.update(item)
    stale.title = "stale"
    with pytest.raises(ConcurrencyConflict):
        store.queue_items.transact([(Op.UPDATE, stale)])


def test_transaction_refuses_two_partitions(store: Store) -> None:
    with pytest.raises(StoreError, match="one partition"):
        store.queue_items.transact([(Op.INSERT, _item("a")), (Op.INSERT, _item("b"))])


def test_paging_follows_continuation_tokens(store: Store) -> None:
    queue_id = str(uuid.uuid4())
    store.queue_items.transact([(Op.INSERT, _item(queue_id, n)) for n in range(25)])
    seen: list[str] = []
    pages = 0
    token: str | None = None
    while True:
        page = store.queue_items.query_page("PartitionKey eq @pk", {"pk": queue_id}, page_size=10, continuation=token)
        seen.extend(i.id for i in page.items)
        pages += 1
        token = page.continuation
        if token is None:
            break
    assert pages == 3
    assert len(seen) == len(set(seen)) == 25
    assert len(list(store.queue_items.query("PartitionKey eq @pk", {"pk": queue_id}, page_size=7))) == 25


def test_bad_continuation_token_is_a_clear_error(store: Store) -> None:
    with pytest.raises(StoreError, match="continuation"):
        store.queue_items.query_page(continuation="%%%not-a-token")


def test_int64_values_survive_azurite(store: Store) -> None:
    owner = EntityRef(type=EntityType.SYSTEM_USER, id=str(uuid.uuid4()))
    box = Mailbox(
        name="m",
        email_address="m@example.test",
        owner=owner,
        last_duration_ms=2**45,
        watermarks={"INBOX": FolderWatermark(folder="INBOX", uid_validity=2**32 + 5, last_uid=2**40)},
    )
    store.mailboxes.insert(box)
    loaded = store.get_mailbox(box.id)
    assert loaded.last_duration_ms == 2**45
    assert loaded.watermarks["INBOX"].uid_validity == 2**32 + 5
    found = list(store.mailboxes.query("last_duration_ms eq @n", {"n": 2**45}))
    assert [m.id for m in found] == [box.id]


def test_oversized_entity_fails_before_the_request(store: Store) -> None:
    owner = EntityRef(type=EntityType.SYSTEM_USER, id=str(uuid.uuid4()))
    box = Mailbox(name="m", email_address="m@example.test", owner=owner)
    box.watermarks = {f"f{n}": FolderWatermark(folder=f"f{n}", sync_state="s" * 30_000) for n in range(20)}
    before = store.account.counter.total("table")
    with pytest.raises(EntityTooLarge):
        store.mailboxes.insert(box)
    assert store.account.counter.total("table") == before


def test_pop3_processed_keys_beyond_one_property_round_trip(store: Store) -> None:
    owner = EntityRef(type=EntityType.QUEUE, id=str(uuid.uuid4()))
    uidls = [f"{n:016x}" for n in range(10_000)]  # about 190,000 characters of JSON
    box = Mailbox(name="m", email_address="m@example.test", owner=owner,
                  watermarks={"INBOX": FolderWatermark(folder="INBOX", processed_keys=uidls)})  # fmt: skip
    store.mailboxes.insert(box)
    assert store.get_mailbox(box.id).watermarks["INBOX"].processed_keys == uidls


def test_upsert_writes_unconditionally(store: Store) -> None:
    contact = _contact()
    store.contacts.upsert(contact)
    contact.first_name = "again"
    store.contacts.upsert(contact)
    assert store.contacts.get(contact.id, "record").first_name == "again"
