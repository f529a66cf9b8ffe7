"""What an idle socket keeps: tracemalloc in one in-process uvicorn worker while marcher sockets
connect, the Python heap compared before and after, by the line that allocated it.

    python -m bench.memory                # 1,000 sockets, the 30 largest lines
    python -m bench.memory --sockets 200 --top 10
    python -m bench.memory --ws websockets-sansio   # uvicorn's own protocol, to compare

Everything runs in a temporary directory on 127.0.0.1 (a SQLite file, the demo event, uvicorn with
`--ws realtime.sansio:SocketProtocol` as deploy/worker runs it); the sockets are held by a child process, which
is stopped at the end with the server.
"""

import argparse
import asyncio
import gc
import os
import socket
import subprocess
import sys
import tempfile
import tracemalloc
from pathlib import Path

WS = "realtime.sansio:SocketProtocol"  # as deploy/worker and `make run` start uvicorn

CLIENT = """
import asyncio, sys, websockets
async def main(url, token, count):
    held = []
    for _ in range(count):
        ws = await websockets.connect(url, additional_headers={"Authorization": "Bearer " + token},
                                      ping_interval=None, compression=None)
        await ws.recv()  # hello
        held.append(ws)
    print("open", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
"""


def setup(tmp: Path) -> tuple[str, str]:
    """A migrated SQLite database with the demo event; (its slug, a marcher's token)."""
    os.environ.update(
        {
            "DATABASE_URL": f"sqlite:///{tmp / 'memory.sqlite3'}",
            "DJANGO_SETTINGS_MODULE": "fieldops.settings.local",
            "DEBUG": "0",  # DEBUG keeps every query's text
            "LOG_LEVEL": "WARNING",
            "FIELDOPS_WATCH_EMBEDDED": "0",
            "FIELDOPS_MAX_SOCKETS_PER_CREDENTIAL": "1000000",
        }
    )
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connections

    from fieldops.demo import demo_create
    from fieldops.models import Event
    from marshals.services import invite_create, invite_redeem

    call_command("migrate", verbosity=0)
    demo_create()
    event = Event.objects.first()
    invite = invite_create(event=event, role="marcher", max_uses=1)
    token = invite_redeem(code=invite.code, with_token=True).token
    connections.close_all()
    return event.slug, token


def hold(url: str, token: str, count: int) -> subprocess.Popen:
    """A child process holding `count` open sockets, once it has printed "open"."""
    child = subprocess.Popen(
        [sys.executable, "-c", CLIENT, url, token, str(count)],
        stdout=subprocess.PIPE,
        stdin=subprocess.PIPE,
        text=True,
    )
    if child.stdout.readline().strip() != "open":
        child.kill()
        raise RuntimeError("the sockets did not open")
    return child


async def measure(slug: str, token: str, sockets: int, top: int, ws: str) -> None:
    import uvicorn

    from fieldops.asgi import application

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(application, host="127.0.0.1", port=port, lifespan="off",
                            ws=ws, ws_per_message_deflate=False,
                            log_level="warning")  # fmt: skip
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.05)
    url = f"ws://127.0.0.1:{port}/ws/events/{slug}/"
    loop = asyncio.get_running_loop()
    children = [await loop.run_in_executor(None, hold, url, token, 20)]  # warm every path
    try:
        gc.collect()
        tracemalloc.start()
        before = tracemalloc.take_snapshot()
        children.append(await loop.run_in_executor(None, hold, url, token, sockets))
        await asyncio.sleep(1)
        gc.collect()
        after = tracemalloc.take_snapshot()
    finally:
        for child in children:
            child.stdin.write("\n")
            child.stdin.flush()
            child.wait(timeout=30)
        server.should_exit = True
        await serving
    stats = after.compare_to(before, "lineno")
    total = sum(stat.size_diff for stat in stats)
    print(f"{sockets} sockets: {total / sockets / 1024:.2f} KB of Python heap per socket")
    for stat in stats[:top]:
        frame = stat.traceback[0]
        where = frame.filename.split("site-packages/")[-1].replace(os.getcwd() + "/", "")
        print(f"  {stat.size_diff / sockets:7.0f} B  {where}:{frame.lineno}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sockets", type=int, default=1000)
    parser.add_argument("--top", type=int, default=30, help="lines to print, largest first")
    parser.add_argument("--ws", default=WS, help=f"uvicorn's --ws (default {WS}, as deployed)")
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="fieldops-memory-") as tmp:
        slug, token = setup(Path(tmp))
        asyncio.run(measure(slug, token, opts.sockets, opts.top, opts.ws))


if __name__ == "__main__":
    main()
