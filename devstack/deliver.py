"""Put a message into a local mailbox: ``python -m devstack.deliver TO [FILE]``, for trying ``make dev`` out.

Delivers over LMTP to the dev stack's Dovecot, as a mail server would; without a file it makes a short
message from Carol, a demo contact, so the CRM has someone to link it to.
"""

from __future__ import annotations

import argparse
import smtplib
import sys
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

from devstack.dev import DevPorts
from devstack.ports import LOOPBACK

DEFAULT_LMTP_PORT = DevPorts().lmtp  # make dev's; --lmtp-port when it was changed
SAMPLE_SENDER = "carol@fabrikam.test"  # a contact of the demo organization


def sample(to: str, subject: str) -> bytes:
    message = EmailMessage()
    message["From"] = f"Carol Clark <{SAMPLE_SENDER}>"
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain="fabrikam.test")
    message.set_content("Hello,\n\ncould you send me the price list?\n\nCarol\n")
    return message.as_bytes()


def deliver(raw: bytes, to: str, *, host: str = LOOPBACK, port: int = DEFAULT_LMTP_PORT) -> None:
    with smtplib.LMTP(host, port, timeout=30) as lmtp:
        lmtp.sendmail(SAMPLE_SENDER, [to], raw)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack.deliver", description=__doc__.splitlines()[0])
    parser.add_argument("to", help="a dev mailbox, such as support@example.test")
    parser.add_argument("file", nargs="?", type=Path, help="a message file (.eml); a sample message without it")
    parser.add_argument("--subject", default="Price list, please")
    parser.add_argument("--lmtp-port", type=int, default=DEFAULT_LMTP_PORT)
    args = parser.parse_args(argv)
    raw = args.file.read_bytes() if args.file else sample(args.to, args.subject)
    try:
        deliver(raw, args.to, port=args.lmtp_port)
    except (OSError, smtplib.SMTPException) as exc:
        print(f"error: delivering to {args.to} over LMTP {LOOPBACK}:{args.lmtp_port} failed: {exc}", file=sys.stderr)
        return 1
    print(f"delivered to {args.to}; the next mailbox cycle (within a minute) picks it up")
    return 0


if __name__ == "__main__":
    sys.exit(main())
