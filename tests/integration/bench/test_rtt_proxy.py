"""The benchmarks' delaying proxy: it forwards storage traffic intact and adds the round trip to it.

Forwarding is checked against the real Azurite (a Table round trip through the proxy) and against an echo
server (a payload of many chunks comes back byte for byte). The delay is checked with an injected clock and
sleep: every chunk, each way, waits exactly half the round trip; no test races a timer.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from azure.data.tables import TableServiceClient

from bench.rtt_proxy import RttProxy
from bench.storage_rtt import connection_string, storage_connection
from devstack import Azurite

pytestmark = pytest.mark.integration

RTT_S = 0.010


class FrozenClock:
    """Time that moves only when the proxy sleeps: each wait it asks for is recorded, none is slept."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        await asyncio.sleep(0)


@contextmanager
def running(proxies: list[RttProxy]) -> Iterator[list[int]]:
    """The proxies served by an event loop in a thread, for synchronous clients (the Azure SDK)."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        ports = [asyncio.run_coroutine_threadsafe(p.start(), loop).result(10) for p in proxies]
        yield ports
    finally:
        for proxy in proxies:
            asyncio.run_coroutine_threadsafe(proxy.close(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def test_a_table_round_trip_through_the_proxy_reaches_azurite_intact(azurite: Azurite) -> None:
    clock = FrozenClock()
    targets = (azurite.blob_port, azurite.queue_port, azurite.table_port)
    proxies = [RttProxy((azurite.host, port), RTT_S, clock=clock, sleep=clock.sleep) for port in targets]
    with running(proxies) as (blob, queue, table):
        service = TableServiceClient.from_connection_string(connection_string("127.0.0.1", blob, queue, table))
        name = "rtt" + uuid.uuid4().hex[:10]
        client = service.create_table_if_not_exists(name)
        client.upsert_entity({"PartitionKey": "p", "RowKey": "r", "Body": "é" * 30_000})
        assert client.get_entity("p", "r")["Body"] == "é" * 30_000
        service.delete_table(name)
    stats = proxies[2].stats
    assert stats.connections >= 1
    assert stats.chunks["up"] >= 4 and stats.chunks["down"] >= 4  # four requests, each answered
    assert stats.bytes["up"] > 60_000  # the 60 KB body went through the proxy, not around it
    assert proxies[0].stats.connections == proxies[1].stats.connections == 0


def test_every_chunk_waits_half_the_round_trip_each_way() -> None:
    clock = FrozenClock()
    payload = bytes(range(256)) * 4096  # 1 MiB: many chunks, which must arrive in order

    async def exchange() -> bytes:
        async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
            writer.close()

        server = await asyncio.start_server(echo, "127.0.0.1", 0)
        proxy = RttProxy(("127.0.0.1", server.sockets[0].getsockname()[1]), RTT_S, clock=clock, sleep=clock.sleep)
        port = await proxy.start()
        reader, writer = await asyncio.open_connection("127.0.0.1", port)

        async def send() -> None:
            writer.write(payload)
            await writer.drain()
            writer.write_eof()

        sending = asyncio.ensure_future(send())
        received = await reader.read(-1)
        await sending
        writer.close()
        await proxy.close()
        server.close()
        await server.wait_closed()
        return received

    received = asyncio.run(exchange())
    assert received == payload
    proxy_waits = clock.slept
    # one wait per chunk each way, plus the end of stream each way; each exactly rtt / 2
    assert len(proxy_waits) >= 2 * (len(payload) // 65536) + 2
    assert proxy_waits == [pytest.approx(RTT_S / 2)] * len(proxy_waits)


def test_a_real_exchange_through_the_proxy_takes_at_least_the_round_trip() -> None:
    """A lower bound only (it cannot be met early, whatever the load); the real sleep path is used."""
    rtt_s = 0.05

    async def exchange() -> float:
        async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.readexactly(4)
            writer.write(b"pong")
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(answer, "127.0.0.1", 0)
        proxy = RttProxy(("127.0.0.1", server.sockets[0].getsockname()[1]), rtt_s)
        reader, writer = await asyncio.open_connection("127.0.0.1", await proxy.start())
        loop = asyncio.get_running_loop()
        started = loop.time()
        writer.write(b"ping")
        assert await reader.readexactly(4) == b"pong"
        elapsed = loop.time() - started
        writer.close()
        await proxy.close()
        server.close()
        return elapsed

    assert asyncio.run(exchange()) >= rtt_s


def test_the_benchmark_option_runs_the_proxy_as_a_child_process(azurite: Azurite) -> None:
    with storage_connection(azurite, 0) as direct:
        assert direct == azurite.connection_string
    with storage_connection(azurite, 5) as proxied:
        assert f":{azurite.table_port}/" not in proxied
        service = TableServiceClient.from_connection_string(proxied)
        name = "rtt" + uuid.uuid4().hex[:10]
        service.create_table(name)
        assert name in {t.name for t in service.list_tables()}
        service.delete_table(name)
        port = int(proxied.split("TableEndpoint=")[1].split(":")[2].split("/")[0])
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=5):
        pass  # the child process ended with the block
