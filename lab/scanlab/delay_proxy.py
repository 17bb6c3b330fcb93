"""The TCP proxy that delays SMB replies (this kernel has no netem), run in the namespace as lab/lab _delay-proxy."""
from __future__ import annotations

import asyncio
import json
import socket
import struct
import subprocess
import sys

from .instance import Lab
from .settings import LAB_SCRIPT, PROXY_PORT
from .shell import port_open, wait_until


def start_delay_proxy(lab: Lab, delays: dict[str, int]) -> None:
    (lab.state / "delays.json").write_text(json.dumps(delays))
    with open(lab.state / "log" / "delay-proxy.log", "ab") as out:
        subprocess.Popen(["ip", "netns", "exec", lab.netns, sys.executable, str(LAB_SCRIPT),
                          "--instance", lab.instance, "_delay-proxy"],
                         stdout=out, stderr=out, stdin=subprocess.DEVNULL, start_new_session=True)
    wait_until(lambda: port_open(lab.dc_addr, PROXY_PORT), 10,
               "lab: the delay proxy did not start; see its log in the state dir")


def delay_proxy(lab: Lab) -> None:
    """Forward each redirected connection to its original address, delaying server replies."""
    delays = {a: d / 1000 for a, d in json.loads((lab.state / "delays.json").read_text()).items()}

    async def pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float) -> None:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def deliver() -> None:
            while True:
                due, chunk = await queue.get()
                if not chunk:
                    break
                await asyncio.sleep(max(0.0, due - loop.time()))
                writer.write(chunk)
                await writer.drain()
        sender = asyncio.create_task(deliver())
        try:
            while chunk := await reader.read(65536):
                queue.put_nowait((loop.time() + delay, chunk))
        finally:
            queue.put_nowait((0.0, b""))
            await sender
            writer.close()

    async def handle(c_reader: asyncio.StreamReader, c_writer: asyncio.StreamWriter) -> None:
        raw = c_writer.get_extra_info("socket").getsockopt(socket.SOL_IP, 80, 16)  # SO_ORIGINAL_DST
        addr = socket.inet_ntoa(raw[4:8])
        port = struct.unpack("!H", raw[2:4])[0]
        if port == PROXY_PORT:  # a direct connection (the start-up probe), not a redirected one: no loop
            c_writer.close()
            return
        try:
            s_reader, s_writer = await asyncio.open_connection(addr, port)
        except OSError:
            c_writer.close()
            return
        await asyncio.gather(pump(c_reader, s_writer, 0.0), pump(s_reader, c_writer, delays.get(addr, 0.0)),
                             return_exceptions=True)

    async def serve() -> None:
        # Inside the lab namespace only: it must catch every redirected target address.
        server = await asyncio.start_server(handle, "0.0.0.0", PROXY_PORT, backlog=4096)  # noqa: S104
        async with server:
            await server.serve_forever()

    asyncio.run(serve())
