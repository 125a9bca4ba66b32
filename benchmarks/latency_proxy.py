"""A TCP proxy that holds back each chunk a client sends by a fixed delay: in front of a
local S3-compatible server it gives every request the round trip of a real bucket
(10-30 ms to a first byte), which a local server does not have. For benchmarks only."""
from __future__ import annotations

import asyncio
import socket
import threading


class LatencyProxy:
    """Listens on 127.0.0.1:``port`` (a free one), forwards to ``target_port``."""

    def __init__(self, target_port: int, delay_s: float) -> None:
        self.target_port, self.delay_s = target_port, delay_s
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.loop = asyncio.new_event_loop()
        started = threading.Event()
        threading.Thread(target=self._run, args=(started,), daemon=True).start()
        started.wait(10)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _run(self, started: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)
        self.server = self.loop.run_until_complete(asyncio.start_server(self._client, "127.0.0.1", self.port))
        started.set()
        self.loop.run_forever()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        await asyncio.gather(self._pipe(reader, up_writer, self.delay_s), self._pipe(up_reader, writer, 0.0))

    @staticmethod
    async def _pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter, delay_s: float) -> None:
        try:
            while data := await src.read(1 << 16):
                if delay_s:
                    await asyncio.sleep(delay_s)
                dst.write(data)
                await dst.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            dst.close()
