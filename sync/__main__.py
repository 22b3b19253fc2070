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
    account.check_reachable()
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


def _new_api_key(args: argparse.Namespace) -> int:
    from sync.api.auth import new_api_key  # noqa: PLC0415

    key, digest = new_api_key()
    print(f"API key (give it to the caller, it is not stored): {key}")
    if args.reader:  # an approver reads too
        suffix = ":approver" if args.approver else ":reader"
    else:
        suffix = ":admin+approver" if args.approver else ""
    print(f"SYNC_API_KEYS entry (append, comma-separated): {digest}{suffix}")
    return 0


def _serve(args: argparse.Namespace) -> int:
    import function_app  # noqa: PLC0415 (builds the services from the environment, as the Functions host does)
    from sync.api.app import create_app  # noqa: PLC0415
    from sync.devhost import DevHost  # noqa: PLC0415

    settings = function_app.settings
    function_app.services.store.account.check_reachable()
    function_app.services.store.account.ensure_created()
    host = DevHost(function_app.app, settings)
    for name, kind in host.describe():
        print(f"  {name}: {kind}")
    api = None if args.no_http else create_app(settings, lambda: function_app.services.store)
    if api is not None:
        print(f"admin API on http://{args.host}:{args.port}/api (docs: /api/docs)")
    host.serve(api, host=args.host, port=args.port)
    return 0


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
    key = commands.add_parser("new-api-key", help="print a new admin API key and its SYNC_API_KEYS entry")
    key.add_argument("--reader", action="store_true", help="a read-only key (Sync.Reader)")
    key.add_argument("--approver", action="store_true", help="a key that also approves email addresses (Sync.Approver)")
    key.set_defaults(run=_new_api_key)
    serve = commands.add_parser("serve", help="run the timers, queue triggers and the admin API locally")
    serve.add_argument("--host", default="127.0.0.1", help="address the API listens on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=7071, help="API port (default 7071, as func start)")
    serve.add_argument("--no-http", action="store_true", help="run the triggers only")
    serve.set_defaults(run=_serve)
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
