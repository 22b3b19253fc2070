"""What every operation handler shares: the request context and how ids in a request are resolved.

A handler takes the context and the ``m:{Operation}`` element and returns its ResponseMessages. Errors
about one folder or item become that entry's error message (EWS answers batches entry by entry);
errors that end the whole request are raised as ``SoapFault``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from tests.ews import soap
from tests.ews.errors import StateError
from tests.ews.state import Folder, Item, Mailbox, MailStore


@dataclass
class Context:
    store: MailStore
    mailbox: Mailbox
    operation: str
    item_error: str | None = None  # an injected ResponseCode, spent on the first item the request names

    def ok(self, *children: ET.Element) -> ET.Element:
        return soap.success(self.operation, *children)

    def fail(self, problem: StateError, *children: ET.Element) -> ET.Element:
        return soap.error(self.operation, problem.code, str(problem), *children)

    def folder(self, ref: ET.Element | None) -> Folder:
        """The folder a ``t:FolderId`` or ``t:DistinguishedFolderId`` element names."""
        if ref is None or not ref.get("Id"):
            raise StateError("ErrorInvalidIdEmpty", "The folder id is missing or empty.")
        return self.mailbox.folder(ref.get("Id", ""))

    def first_folder(self, container: ET.Element | None) -> Folder:
        """The folder of a one-folder container such as ``m:ParentFolderId`` or ``m:ToFolderId``."""
        return self.folder(None if container is None or len(container) == 0 else container[0])

    def item(self, ref: ET.Element) -> Item:
        """The item a ``t:ItemId`` names; an injected per-item error stands in for the first one."""
        if self.item_error is not None:
            code, self.item_error = self.item_error, None
            raise StateError(code, f"Injected {code} for this item.")
        return self.mailbox.item(ref.get("Id", ""))


Handler = Callable[[Context, ET.Element], list[ET.Element]]
T = TypeVar("T")


def paged(view: ET.Element | None, found: Sequence[T]) -> tuple[ET.Element, Sequence[T]]:
    """The ``m:RootFolder`` paging element of FindItem/FindFolder and the page an IndexedPage view asks for."""
    offset = int(view.get("Offset", "0")) if view is not None else 0
    limit = view.get("MaxEntriesReturned") if view is not None else None
    page = found[offset : offset + int(limit)] if limit else found[offset:]
    end = offset + len(page)
    root = soap.element(
        "m:RootFolder",
        IndexedPagingOffset=str(end),
        TotalItemsInView=str(len(found)),
        IncludesLastItemInRange=str(end >= len(found)).lower(),
    )
    return root, page
