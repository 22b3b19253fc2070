"""The ``--storage-rtt-ms`` option of every benchmark: Azurite reached through the delaying proxy.

At 0 ms the benchmark talks to Azurite directly (the figures of earlier runs); above 0 the Blob, Queue and
Table endpoints of the connection string point at a :mod:`bench.rtt_proxy` child process that adds the
round trip to every storage request. Only the app's storage goes through it: mail servers and baselines
are not delayed.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from devstack.azurite import ACCOUNT_KEY, ACCOUNT_NAME, Azurite

STARTUP_TIMEOUT_S = 30


def add_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--storage-rtt-ms",
        type=float,
        default=0.0,
        help="round-trip time added to every storage request by a delaying proxy (default 0: direct)",
    )


def connection_string(host: str, blob_port: int, queue_port: int, table_port: int) -> str:
    def endpoint(port: int) -> str:
        return f"http://{host}:{port}/{ACCOUNT_NAME}"

    return (
        f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT_NAME};AccountKey={ACCOUNT_KEY};"
        f"BlobEndpoint={endpoint(blob_port)};QueueEndpoint={endpoint(queue_port)};"
        f"TableEndpoint={endpoint(table_port)};"
    )


@contextmanager
def storage_connection(azurite: Azurite, rtt_ms: float) -> Iterator[str]:
    """The connection string the app under test uses: direct at 0 ms, through the proxy otherwise."""
    if rtt_ms <= 0:
        yield azurite.connection_string
        return
    targets = [f"{azurite.host}:{port}" for port in (azurite.blob_port, azurite.queue_port, azurite.table_port)]
    argv = [sys.executable, "-m", "bench.rtt_proxy", "--rtt-ms", str(rtt_ms)]
    for target in targets:
        argv += ["--target", target]
    proxy = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
    try:
        assert proxy.stdout is not None
        line = proxy.stdout.readline()
        if not line:
            raise RuntimeError(f"the storage RTT proxy did not start (exit code {proxy.poll()})")
        blob, queue, table = json.loads(line)["ports"]
        yield connection_string("127.0.0.1", blob, queue, table)
    finally:
        proxy.terminate()
        try:
            proxy.wait(timeout=STARTUP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proxy.kill()
            proxy.wait()
