"""A delaying TCP proxy: storage as far away as Azure is, for benchmarks run against Azurite on loopback.

Every byte forwarded waits ``rtt / 2`` in each direction, like a network link with that one-way latency:
the request reaches Azurite half a round trip after the client sent it and the answer reaches the client
half a round trip after Azurite wrote it, so each request/response exchange costs one ``rtt`` more, and
exchanges on different connections overlap as they would on a real network. Chunks keep their order on
each connection (a delay line, not a queue of sleeps): a request written in several chunks costs the round
trip once, not once per chunk. No HTTP parsing, pure stdlib asyncio.

The clock and the sleep are injectable so tests can check the delay without racing a timer. Benchmarks
run it in a child process (``python -m bench.rtt_proxy``) so its forwarding does not compete with the
measured code for the GIL.

    python -m bench.rtt_proxy --rtt-ms 10 --target 127.0.0.1:10002 [--target ...]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

CHUNK = 64 * 1024
LOOPBACK = "127.0.0.1"

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


@dataclass
class ProxyStats:
    """What went through, per direction ("up": client to server, "down": server to client)."""

    connections: int = 0
    chunks: Counter[str] = field(default_factory=Counter)
    bytes: Counter[str] = field(default_factory=Counter)
    delays: list[float] = field(default_factory=list)  # every wait the delay line asked for, in seconds


class RttProxy:
    """Listens on a loopback port and forwards each connection to ``target``, ``rtt_s / 2`` late each way."""

    def __init__(
        self,
        target: tuple[str, int],
        rtt_s: float,
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if rtt_s < 0:
            raise ValueError("the round-trip time cannot be negative")
        self.target = target
        self.one_way_s = rtt_s / 2
        self.stats = ProxyStats()
        self._clock = clock
        self._sleep = sleep
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the proxy is not started")
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def start(self, port: int = 0) -> int:
        self._server = await asyncio.start_server(self._accept, LOOPBACK, port)
        return self.port

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _accept(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        self.stats.connections += 1
        try:
            server_reader, server_writer = await asyncio.open_connection(*self.target)
        except OSError:
            client_writer.close()
            return
        up = self._spawn(self._pipe(client_reader, server_writer, "up"))
        down = self._spawn(self._pipe(server_reader, client_writer, "down"))
        try:
            await asyncio.gather(up, down, return_exceptions=True)
        finally:  # a half-closed side keeps its socket until both directions are done
            server_writer.close()
            client_writer.close()

    def _spawn(self, coroutine: Awaitable[None]) -> asyncio.Task[None]:
        task: asyncio.Task[None] = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, direction: str) -> None:
        """Read chunks as they come; forward each one ``one_way_s`` after it arrived, in order."""
        line: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()
        forward = self._spawn(self._forward(line, writer))
        try:
            while chunk := await reader.read(CHUNK):
                self.stats.chunks[direction] += 1
                self.stats.bytes[direction] += len(chunk)
                line.put_nowait((self._clock() + self.one_way_s, chunk))
        except ConnectionError:
            pass
        finally:
            line.put_nowait((self._clock() + self.one_way_s, b""))  # the end of stream travels late too
            await asyncio.gather(forward, return_exceptions=True)

    async def _forward(self, line: asyncio.Queue[tuple[float, bytes]], writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                due, chunk = await line.get()
                wait = due - self._clock()
                if wait > 0:
                    self.stats.delays.append(wait)
                    await self._sleep(wait)
                if not chunk:
                    break
                writer.write(chunk)
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            with contextlib.suppress(ConnectionError, RuntimeError, OSError):
                if writer.can_write_eof() and not writer.is_closing():
                    writer.write_eof()


def _target(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host or LOOPBACK, int(port)


async def _serve(targets: list[tuple[str, int]], rtt_s: float) -> None:
    proxies = [RttProxy(target, rtt_s) for target in targets]
    ports = [await proxy.start() for proxy in proxies]
    print(json.dumps({"ports": ports}), flush=True)  # the parent reads this line, then the proxies serve
    await asyncio.Event().wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rtt-ms", type=float, required=True, help="round-trip time added to every exchange")
    parser.add_argument("--target", action="append", required=True, help="host:port to forward to (repeatable)")
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve([_target(t) for t in args.target], args.rtt_ms / 1000))
    return 0


if __name__ == "__main__":
    sys.exit(main())
