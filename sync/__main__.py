"""Command line: ``python -m sync <command>``. Each command validates the settings it needs first."""

from __future__ import annotations

import argparse
import sys

from sync.errors import SyncError


def _new_key(_: argparse.Namespace) -> int:
    from sync.auth.secrets import new_key  # noqa: PLC0415 (each command imports only what it uses)

    print(new_key())
    return 0


def _init_storage(_: argparse.Namespace) -> int:
    from sync.settings import load_settings  # noqa: PLC0415
    from sync.store import StorageAccount  # noqa: PLC0415

    account = StorageAccount(load_settings())
    account.ensure_created()
    print("tables, queues and containers are ready")
    return 0


def _parse(args: argparse.Namespace) -> int:
    from sync.mail.parse_cli import run_parse  # noqa: PLC0415

    return run_parse(args.file)


def _replay(args: argparse.Namespace) -> int:
    from sync.incoming.replay import replay_quarantine  # noqa: PLC0415
    from sync.settings import load_settings  # noqa: PLC0415
    from sync.store import Store  # noqa: PLC0415

    settings = load_settings()
    results = replay_quarantine(Store.from_settings(settings), settings, args.mailbox_id)
    for result in results:
        print(f"{result.message_key}: {result.outcome}{'' if result.released else ' (still quarantined)'}")
    print(f"{sum(r.released for r in results)} of {len(results)} quarantined messages replayed")
    return 0 if all(r.released for r in results) else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m sync", description="Server-side email synchronization")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("new-key", help="print a new SYNC_SECRET_ENCRYPTION_KEY").set_defaults(run=_new_key)
    commands.add_parser("init-storage", help="create every table, queue and container").set_defaults(run=_init_storage)
    parse = commands.add_parser("parse", help="parse a message file and print its summary as JSON")
    parse.add_argument("file")
    parse.set_defaults(run=_parse)
    replay = commands.add_parser("replay", help="run a mailbox's quarantined messages through the pipeline again")
    replay.add_argument("mailbox_id")
    replay.set_defaults(run=_replay)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.run(args)
    except SyncError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return code


if __name__ == "__main__":
    sys.exit(main())
