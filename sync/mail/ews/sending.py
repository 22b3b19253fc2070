"""Sending through EWS: CreateItem with SendAndSaveCopy, our MIME as it is, a copy in Sent Items (R-OUT-7).

The message goes as MIME content, so Exchange keeps our Message-ID: replies correlate (R-COR-2) and the
copy in Sent Items can be found by it. That is what makes EWS better than SMTP after a lost answer: the
sender looks there before it sends again (``sync/outgoing/sender.py``).

A request that never left (no connection) raises a TransientMailError; a request that left and whose
answer was lost raises DeliveryStatusUnknown; an answer with an error means Exchange refused it whole.
A send is never retried here: a retry is the sender's decision, under a new claim.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from exchangelib import Account, Message
from exchangelib.errors import ErrorServerBusy, ErrorTimeoutExpired

from sync.mail.errors import MailServerError, TransientMailError
from sync.mail.ews.account import TokenSource, install_http_adapter, open_account
from sync.mail.ews.endpoint import EwsEndpoint, ews_endpoint
from sync.mail.ews.errors import LINK_LOST_MARKERS, translate
from sync.model import EmailServerProfile, Mailbox
from sync.outgoing.port import DeliveryStatusUnknown
from sync.settings import Settings

MAX_ACCOUNTS = 256  # accounts kept warm per process (each remembers its Sent Items folder)
NOT_SENT_MARKERS = ("NewConnectionError", "ConnectTimeout", "Connection refused", "Failed to establish")  # never left


class EwsOutbox:
    def __init__(self, account: Account) -> None:
        self.account = account
        self._lock = threading.Lock()

    def send(self, data: bytes, *, save_copy: bool) -> None:
        with self._lock:
            try:
                folder = self.account.sent if save_copy else None  # a GetFolder the first time only
            except Exception as exc:
                raise translate(exc, what="GetFolder") from None
            message = Message(account=self.account, folder=folder, mime_content=data)
            try:
                if save_copy:
                    message.send_and_save()
                else:
                    message.send()
            except Exception as exc:
                raise _send_error(exc) from None

    def find_sent(self, message_id: str) -> bool:
        wanted = message_id if message_id.startswith("<") else f"<{message_id}>"
        with self._lock:
            try:
                for folder in (self.account.sent, self.account.outbox):
                    if folder.filter(message_id=wanted).only("id").count():
                        return True
            except Exception as exc:
                raise translate(exc, what="FindItem") from None
        return False


def _send_error(exc: BaseException) -> MailServerError:
    """What a failed CreateItem means for the message: never sent, refused, or unknown."""
    text = str(exc)
    lost = isinstance(exc, (ErrorTimeoutExpired, ErrorServerBusy)) and any(m in text for m in LINK_LOST_MARKERS)
    if lost and not any(marker in text for marker in NOT_SENT_MARKERS):
        return DeliveryStatusUnknown(f"CreateItem: the answer was lost: {text}"[:1000])
    if lost:
        return TransientMailError(f"CreateItem: {text}"[:1000], code="ConnectFailure")
    return translate(exc, what="CreateItem")


class EwsSender:
    """The outgoing side of the EWS connector: one warm Account per mailbox endpoint."""

    def __init__(self, settings: Settings, box: Any, tokens: TokenSource | None) -> None:
        self.settings = settings
        self.box = box
        self.tokens = tokens
        self._outboxes: OrderedDict[EwsEndpoint, EwsOutbox] = OrderedDict()
        self._lock = threading.Lock()
        install_http_adapter(settings.extra_ca_file)

    def open_outbox(self, mailbox: Mailbox, profile: EmailServerProfile) -> EwsOutbox:
        endpoint = ews_endpoint(mailbox, profile, self.box, outgoing=True)
        with self._lock:
            found = self._outboxes.get(endpoint)
            if found is not None:
                self._outboxes.move_to_end(endpoint)
                return found
        account = open_account(endpoint, self.tokens, max_connections=self.settings.ews_max_concurrent_calls)
        outbox = EwsOutbox(account)
        with self._lock:
            self._outboxes[endpoint] = outbox
            while len(self._outboxes) > MAX_ACCOUNTS:
                self._outboxes.popitem(last=False)
        return outbox
