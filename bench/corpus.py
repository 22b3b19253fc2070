"""Real-world messages for the Exchange benchmarks, read at run time from the shared corpus.

Each message gets its own Message-ID (one message, one email). Messages the pipeline rejects by design
(no usable sender, a bounce of nothing the CRM sent) are left out and counted, since the figures are per
email stored; without the corpus, generated messages stand in.
"""

from __future__ import annotations

import re
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

from bench.messages import generate
from sync.incoming.processor import IncomingProcessor

REPO_ROOT = Path(__file__).resolve().parent.parent
CORPUS = REPO_ROOT.parent / "shared" / "corpus"
SENDERS = [f"contact{n}@customer{n % 7}.test" for n in range(50)]
_MESSAGE_ID = re.compile(rb"message-id[ \t]*:", re.IGNORECASE)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- the messages ---------------------------------------------------------------------------------------
def corpus_files() -> list[Path]:
    """The corpus's messages in a fixed order; empty when the corpus is not there."""
    return sorted(CORPUS.rglob("*.eml")) if CORPUS.is_dir() else []


def with_message_id(raw: bytes, message_id: str) -> bytes:
    """``raw`` with its Message-ID header(s) replaced by ``message_id``; everything else byte for byte.

    The new header goes at the end of the header block, so a leading mbox ``From `` line stays first.
    """
    crlf = raw.find(b"\r\n\r\n")
    lf = raw.find(b"\n\n")
    if crlf != -1 and (lf == -1 or crlf < lf):
        head, body, eol = raw[:crlf], raw[crlf + 2 :], b"\r\n"
    elif lf != -1:
        head, body, eol = raw[:lf], raw[lf + 1 :], b"\n"
    else:  # headers only
        eol = b"\r\n" if raw.endswith(b"\r\n") else b"\n"
        head, body = raw.rstrip(b"\r\n"), eol
    kept: list[bytes] = []
    dropping = False
    for line in head.split(eol):
        if line[:1] in (b" ", b"\t") and dropping:
            continue  # a folded continuation of a dropped Message-ID
        dropping = _MESSAGE_ID.match(line) is not None
        if not dropping:
            kept.append(line)
    kept.append(f"Message-ID: <{message_id}>".encode())
    return eol.join(kept) + eol + body


def messages(n: int, usable: list[bytes], *, to: str, tag: str) -> Iterator[bytes]:
    """N messages cycling through ``usable`` (generated ones when it is empty), each with its own Message-ID."""
    run = uuid.uuid4().hex[:8]
    source = (usable[i % len(usable)] for i in range(n)) if usable else generate(n, to=to, senders=SENDERS)
    for i, raw in enumerate(source):
        yield with_message_id(raw, f"bench-{tag}-{run}-{i}@bench.test")


def trackable(processor: IncomingProcessor, files: list[Path]) -> tuple[list[bytes], dict[str, int]]:
    """The corpus messages the pipeline tracks (CheckIncomingEmail, nothing stored), and why the others are not.

    A message without a usable From address or a bounce of nothing the CRM sent is, by design, not tracked; the
    figure is per email stored, so those are left out (counted in ``corpus_skipped``).
    """
    kept: list[bytes] = []
    skipped: dict[str, int] = {}
    for path in files:
        raw = path.read_bytes()
        reason = processor.check(with_message_id(raw, f"check-{uuid.uuid4().hex}@bench.test")).reason
        if reason.accepted:
            kept.append(raw)
        else:
            skipped[reason.label] = skipped.get(reason.label, 0) + 1
    return kept, skipped
