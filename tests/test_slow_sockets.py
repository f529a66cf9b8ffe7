"""A phone that stops reading costs its worker bounded memory and delays nobody else, under daphne
and under uvicorn: real worker processes, real TCP sockets that never read."""

import asyncio
import base64
import os
import socket

import psutil
import pytest

from fieldops.kit.client import Client

from .servers import FaultStack, fault_stack

pytestmark = pytest.mark.multiworker

ROUTE_POINTS = 1000  # a route change of about 30 KB, as a detailed redraw is
ROUTES = 120  # about 3.6 MB: more than the kernel buffers between a worker and a phone
TIMEOUT = 60.0  # liveness only
MB = 1024 * 1024


def big_route(n: int) -> dict:
    points = [[-3.69 + i * 1e-5, 40.41 + (i % 7) * 1e-5 + n * 1e-7] for i in range(ROUTE_POINTS)]
    return {"geometry": {"type": "LineString", "coordinates": points}, "note": f"redraw {n}"}


def post(stack: FaultStack, path: str, token: str, body: dict) -> dict:
    return stack.http(
        0, "POST", f"/api/events/{stack.slug}/{path}", token=token, body=body, timeout=TIMEOUT
    )


def stuck_socket(stack: FaultStack, token: str, query: str = "") -> socket.socket:
    """A WebSocket that completes its handshake and then never reads, with a small window."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", stack.ports[0]))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            f"GET /ws/events/{stack.slug}/{query} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            f"Authorization: Bearer {token}\r\n\r\n"
        ).encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:  # one byte at a time: leave every frame unread
        head += sock.recv(1)
    assert b" 101 " in head.split(b"\r\n")[0], head
    return sock


def rss(stack: FaultStack) -> int:
    return psutil.Process(stack.workers[0].proc.pid).memory_info().rss


async def reader(stack: FaultStack, token: str) -> Client:
    return await Client.open(stack.ws_url(0), token=token)


async def read_until(client: Client, seq: int) -> list[int]:
    """The seqs of every entry the client holds, once it holds `seq`."""
    return [entry["seq"] for entry in await client.collect(upto=seq, timeout=TIMEOUT)]


async def scenario(stack: FaultStack) -> dict:
    loop = asyncio.get_running_loop()
    organizer = stack.join("organizer", "control")["token"]
    marcher = stack.join("marcher", "crowd")["token"]
    watcher = await reader(stack, marcher)
    stuck = await loop.run_in_executor(None, stuck_socket, stack, marcher)
    before = rss(stack)

    # Live: a socket that never reads beside one that does.
    seqs = []
    for n in range(ROUTES):
        reply = await loop.run_in_executor(None, post, stack, "routes", organizer, big_route(n))
        seqs.append(reply["seq"])
    danger = await loop.run_in_executor(
        None, post, stack, "alerts", organizer,
        {"text": "Clear the bridge", "audience": "public", "level": "danger"},
    )  # fmt: skip
    got = await read_until(watcher, danger["seq"])
    live_growth = rss(stack) - before

    # Replay: ten phones ask for the whole journal (about 4 MB each) and never read it.
    stuck_replays = [
        await loop.run_in_executor(None, stuck_socket, stack, marcher, "?since=0")
        for _ in range(10)
    ]
    await asyncio.sleep(3)
    after_alert = await loop.run_in_executor(
        None, post, stack, "alerts", organizer,
        {"text": "Regroup at the fountain", "audience": "public", "level": "warning"},
    )  # fmt: skip
    got_after = await read_until(watcher, after_alert["seq"])
    replay_growth = rss(stack) - before - live_growth
    await watcher.close()
    for sock in [stuck, *stuck_replays]:
        sock.close()
    return {"seqs": seqs + [danger["seq"]], "got": got, "got_after": got_after,
            "live_growth": live_growth, "replay_growth": replay_growth}  # fmt: skip


@pytest.mark.parametrize("server", ["daphne", "uvicorn"])
def test_a_socket_that_never_reads_delays_no_one_and_costs_bounded_memory(server):
    env = {"FIELDOPS_MAX_SOCKETS_PER_CREDENTIAL": "100", "FIELDOPS_SOCKET_STALL_SECONDS": "5"}
    with fault_stack(servers=(server,), postgres=False, env_extra=env) as stack:
        result = asyncio.run(asyncio.wait_for(scenario(stack), 240))
        logs = stack.workers[0].logs()
    print(
        f"\n{server}: worker memory grew {result['live_growth'] / MB:.1f} MB while {ROUTES} route "
        f"changes went out beside a stuck socket, then {result['replay_growth'] / MB:.1f} MB with 10 "
        "stuck replays of the whole journal"
    )
    assert result["got"] == result["seqs"]  # every entry, in order, to the socket that reads
    assert result["got_after"][-1] > result["seqs"][-1]
    # Unbounded, each stuck replay would hold the whole journal (about 4 MB); bounded, it holds
    # one batch (256 KiB) and its server buffer.
    assert result["replay_growth"] < 16 * MB, result["replay_growth"]
    assert "Traceback" not in logs, logs[-3000:]
