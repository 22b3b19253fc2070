"""Fetch and parse the next messages on a background thread while the worker stores the current one.

Decisions stay strictly in order (a reply processed after the message it answers still correlates to
it); only the mail-server round trip and the parse overlap with the storage writes. The queue is small
(``depth`` messages), so memory stays flat however large the mailbox is.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Self

from sync.incoming.reasons import Reason
from sync.mail.errors import MailServerError, MessageGone
from sync.mail.mime import ParsedMessage
from sync.mail.port import FolderReader, RemoteMessage

log = logging.getLogger(__name__)

PUT_POLL_SECONDS = 0.1


@dataclass(frozen=True)
class Fetched:
    remote: RemoteMessage
    raw: bytes | None = None  # None: over the size limit, not fetched
    parsed: ParsedMessage | None = None  # None: parsing failed here; the processor parses again and decides
    error: MailServerError | None = None  # the server failed on this message: stop after it
    skipped: Reason | None = None  # decided without fetching (before the start date, tracked already)


class Prefetcher:
    def __init__(
        self,
        session: FolderReader,
        remotes: Sequence[RemoteMessage],
        *,
        max_bytes: int,
        parse: Callable[[bytes], ParsedMessage],
        skipped: Mapping[str, Reason] | None = None,
        depth: int = 4,
        on_parsed: Callable[[ParsedMessage], object] | None = None,
    ) -> None:
        """``on_parsed`` sees each message once parsed, on this thread, before the worker takes it: reads
        its decision will need can start while the worker decides the messages before it."""
        self._session, self._remotes, self._max_bytes, self._parse = session, remotes, max_bytes, parse
        self._skipped = skipped or {}
        self._on_parsed = on_parsed
        self._queue: queue.Queue[Fetched | None] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="prefetch", daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __iter__(self) -> Iterator[Fetched]:
        while True:
            item = self._queue.get()
            if item is None:
                return
            yield item

    def close(self) -> None:
        """Stop fetching and wait for the thread, so the session is free for the caller again."""
        self._stop.set()
        while self._thread.is_alive():
            with contextlib.suppress(queue.Empty):
                self._queue.get(timeout=PUT_POLL_SECONDS)
        self._thread.join()

    def _put(self, item: Fetched | None) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=PUT_POLL_SECONDS)
                return True
            except queue.Full:
                continue
        return False

    def _parsed(self, remote: RemoteMessage, raw: bytes) -> ParsedMessage | None:
        try:
            parsed = self._parse(raw)
        except Exception:  # the processor parses again and quarantines with the real error
            return None
        if self._on_parsed is not None:
            try:
                self._on_parsed(parsed)
            except Exception:  # only a head start: the decision reads what it needs itself
                log.warning("reading ahead for message %s failed", remote.key, exc_info=True)
        return parsed

    def _run(self) -> None:
        try:
            for remote in self._remotes:
                if self._stop.is_set():
                    return
                skip = self._skipped.get(remote.key)
                if skip is not None:
                    if not self._put(Fetched(remote, skipped=skip)):
                        return
                    continue
                if remote.size > self._max_bytes:
                    if not self._put(Fetched(remote)):
                        return
                    continue
                try:
                    raw = self._session.fetch(remote)
                except MessageGone:
                    if not self._put(Fetched(remote, skipped=Reason.MESSAGE_GONE)):
                        return
                    continue
                except MailServerError as exc:
                    self._put(Fetched(remote, error=exc))
                    return
                if not self._put(Fetched(remote, raw, self._parsed(remote, raw))):
                    return
        finally:
            self._put(None)
