"""Sending through Microsoft Graph: ``sendMail`` with our MIME as it is, a copy in Sent Items (R-OUT-7).

MIME (base64, ``text/plain``) is the one form of ``sendMail`` that carries our own Message-ID header, so
replies correlate and the copy in Sent Items can be found by it (``docs/graph-client.md``). A request
that never left raises a TransientMailError; one whose answer was lost raises DeliveryStatusUnknown, and
the sender looks for the Message-ID in Sent Items before it sends again. Graph always saves the copy for
MIME sends, so the organization's "save to Sent Items" switch cannot turn it off here.
"""

from __future__ import annotations

from urllib.parse import quote

from sync.mail.graph.client import GraphClient
from sync.mail.graph.errors import OutcomeUnknown
from sync.outgoing.port import DeliveryStatusUnknown

SEARCHED = ("sentitems", "outbox")  # where a submitted message is: sent, or still waiting to go


class GraphOutbox:
    def __init__(self, client: GraphClient, address: str) -> None:
        self.client = client
        self.user = f"/users/{quote(address, safe='@')}"

    def send(self, data: bytes, *, save_copy: bool) -> None:
        try:
            self.client.post_mime(f"{self.user}/sendMail", data)
        except OutcomeUnknown as exc:
            raise DeliveryStatusUnknown(f"sendMail: the answer was lost: {exc}") from None

    def find_sent(self, message_id: str) -> bool:
        wanted = message_id if message_id.startswith("<") else f"<{message_id}>"
        literal = wanted.replace("'", "''")
        for folder in SEARCHED:
            found = self.client.get(
                f"{self.user}/mailFolders/{folder}/messages",
                {"$filter": f"internetMessageId eq '{literal}'", "$select": "id", "$top": "1"},
            )
            if found.get("value"):
                return True
        return False
