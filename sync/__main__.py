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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m sync", description="Server-side email synchronization")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("new-key", help="print a new SYNC_SECRET_ENCRYPTION_KEY").set_defaults(run=_new_key)
    commands.add_parser("init-storage", help="create every table, queue and container").set_defaults(run=_init_storage)
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
