"""``python -m sync parse FILE``: parse one raw message and print a JSON summary.

For operators looking at a quarantined message and for trying the parser on a sample. It uses the
settings' default limits, not the app settings, so it runs without any deployment configuration.
"""

from __future__ import annotations

import json
import sys

from sync.mail.mime import parse_message, summary
from sync.settings import Settings


def run_parse(path: str) -> int:
    """Print the summary of the message in ``path``; 2 when the file cannot be read, else 0."""
    try:
        with open(path, "rb") as source:
            raw = source.read()
    except OSError as exc:
        print(f"error: cannot read {path}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    fields = Settings.model_fields
    parsed = parse_message(
        raw,
        max_bytes=int(fields["max_incoming_email_bytes"].default),
        max_nesting=int(fields["mime_max_nesting"].default),
        timeout_seconds=float(fields["mime_parse_timeout_seconds"].default),
    )
    print(json.dumps(summary(parsed), ensure_ascii=False, indent=2))
    return 0
