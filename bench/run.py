"""The benchmark's phases: floor, connect (memory), fan-out sweep, storm, ingest under fan-out."""

import asyncio
import multiprocessing
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from fieldops.kit.client import Client, join
from fieldops.kit.launcher import Running
from fieldops.kit.processes import postgres_server, redis_proc, stop

from . import clients
from .stack import (
    ROOT,
    bench_stack,
    cpu_seconds,
    free_port,
    loop_cpu_seconds,
    raise_fd_limit,
    rss_bytes,
    wait_port,
)

SETTLE_TIMEOUT = 30.0  # seconds to wait for the last deliveries of a phase


def say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# --- the load-generator processes ---------------------------------------------------------------


class Fleet:
    """Subscriber processes; `call` sends one command to all of them and gathers the answers."""

    def __init__(self, processes: int) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.conns, self.procs, self.pending = [], [], {}
        self.lock = threading.Lock()
        self.loop = asyncio.get_running_loop()
        for _ in range(processes):
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=clients.subscriber_main, args=(child,), daemon=True)
            proc.start()
            self.conns.append(parent)
            self.procs.append(proc)
            threading.Thread(target=self._read, args=(parent,), daemon=True).start()

    def _read(self, conn) -> None:
        while True:
            try:
                rid, result = conn.recv()
            except (EOFError, OSError):
                return
            with self.lock:
                future = self.pending.pop(rid)
            self.loop.call_soon_threadsafe(future.set_result, result)

    def _send(self, conn, command: str, args: tuple) -> asyncio.Future:
        rid = uuid.uuid4().hex
        future = self.loop.create_future()
        with self.lock:
            self.pending[rid] = future
        conn.send((rid, command, args))
        return future

    async def call(self, command: str, *args) -> list:
        return await asyncio.gather(*(self._send(conn, command, args) for conn in self.conns))

    async def connect(self, urls, tokens, total: int, label: str) -> int:
        """Open sockets until `total` are open, spread over processes and URLs, with progress."""
        per = [
            total // len(self.conns) + (i < total % len(self.conns)) for i in range(len(self.conns))
        ]
        have = [r["open"] for r in await self.call("progress")]
        futures = [
            self._send(conn, "connect", (urls, tokens, max(0, per[i] - have[i])))
            for i, conn in enumerate(self.conns)
        ]
        began = time.monotonic()
        while not all(f.done() for f in futures):
            await asyncio.sleep(2)
            open_now = sum(r["open"] for r in await self.call("progress"))
            say(f"  {label}: {open_now}/{total} sockets open ({time.monotonic() - began:.0f} s)")
        results = [f.result() for f in futures]
        failed = sum(r["failed"] for r in results)
        if failed:
            say(f"  {label}: {failed} sockets failed to connect")
        return sum(r["open"] for r in results)

    async def received(self) -> int:
        return sum(r["received"] for r in await self.call("progress"))

    async def stop(self) -> None:
        await asyncio.wait_for(self.call("stop"), timeout=60)
        for proc in self.procs:
            proc.join(timeout=10)
            if proc.is_alive():
                proc.terminate()


class Publisher:
    """The organizer's socket: sends alerts stamped with the send time, waits for their acks."""

    def __init__(self) -> None:
        self.count = 0

    async def open(self, url: str, token: str | None) -> None:
        self.client = await Client.open(url, token=token, keep=0)

    async def publish(self) -> int:
        self.count += 1
        data = {"text": clients.stamp_text(self.count), "audience": "public"}
        return (await self.client.act("alert.send", data))["seq"]

    async def close(self) -> None:
        await self.client.close()


# --- phases ---------------------------------------------------------------------------------------


@dataclass
class Fanout:
    clients: int
    alerts: int
    deliveries: int
    lost: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    deliveries_per_s: float
    cpu_us_per_delivery: float
    latencies_ms: list = field(default_factory=list, repr=False)
    began: float = field(default=0.0, repr=False)  # time.monotonic() of the first publish

    def public(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k not in ("latencies_ms", "began")}


async def fanout(
    fleet: Fleet,
    pub: Publisher,
    *,
    sockets: int,
    alerts: int,
    interval: float,
    pids: list[int],
    label: str,
    during=None,
) -> Fanout:
    """Publish `alerts` alerts `interval` s apart; measure latency, losses and server CPU."""
    await fleet.call("reset")
    cpu0 = cpu_seconds(pids)
    began = time.monotonic()
    seqs = []
    for i in range(alerts):
        seqs.append(await pub.publish())
        if (i + 1) % max(1, alerts // 4) == 0 or i + 1 == alerts:
            got = await fleet.received()
            say(f"  {label}: {i + 1}/{alerts} published, {got}/{sockets * alerts} delivered")
        await asyncio.sleep(max(0.0, began + (i + 1) * interval - time.monotonic()))
    expected = sockets * alerts
    deadline = time.monotonic() + SETTLE_TIMEOUT
    while await fleet.received() < expected and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    cpu = cpu_seconds(pids) - cpu0
    if during is not None:
        await during
    results = await fleet.call("collect", seqs)
    latencies = [ns / 1e6 for r in results for ns in r["latencies"]]
    deliveries = sum(r["received"] for r in results)
    lost = sum(r["lost"] for r in results)
    spent = max(1e-9, max(latencies, default=0) / 1000 + (alerts - 1) * interval)
    result = Fanout(
        clients=sockets,
        alerts=alerts,
        deliveries=deliveries,
        lost=lost,
        p50_ms=round(pct(latencies, 0.50), 1),
        p99_ms=round(pct(latencies, 0.99), 1),
        max_ms=round(max(latencies, default=0), 1),
        deliveries_per_s=round(deliveries / spent),
        cpu_us_per_delivery=round(cpu * 1e6 / max(1, deliveries), 1),
        latencies_ms=latencies,
        began=began,
    )
    say(
        f"  {label}: {sockets} sockets, p50 {result.p50_ms} ms, p99 {result.p99_ms} ms, "
        f"lost {lost}, {result.cpu_us_per_delivery} µs CPU/delivery"
    )
    return result


async def sweep_step(
    fleet: Fleet, pub: Publisher, opts, steps: list[int], step: int, pids: list[int], label: str
) -> Fanout:
    """The fan-out measured at one step of the sweep: the last step sends the full alert count."""
    alerts = opts.alerts if step == steps[-1] else opts.sweep_alerts
    return await fanout(
        fleet, pub, sockets=step, alerts=alerts, interval=opts.interval, pids=pids, label=label
    )


async def run_floor(opts, steps: list[int]) -> dict:
    say(f"floor: bare websockets broadcast server, {opts.clients} clients")
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "bench.floor", str(port)], cwd=ROOT)
    fleet = None
    try:
        wait_port(port, proc=server)
        fleet = Fleet(opts.client_procs)
        pub = Publisher()
        await pub.open(f"ws://127.0.0.1:{port}/pub", None)
        sweep = []
        for step in steps:
            await fleet.connect([f"ws://127.0.0.1:{port}/"], [None], step, "floor connect")
            sweep.append(await sweep_step(fleet, pub, opts, steps, step, [server.pid], "floor"))
        out = {"final": sweep[-1], "sweep": sweep}
        out["storm"] = await storm(fleet, pub, sockets=steps[-1], missed=opts.storm_missed)
        await pub.close()
        return out
    finally:
        if fleet is not None:
            await fleet.stop()
        server.terminate()
        server.wait(timeout=10)


ON_ROUTE = (40.4253, -3.6903)  # a point on the demo route: the safety rules run and stay quiet


async def ingest_open(urls, tokens, opts, *, duration: float):
    """The ingest process with every marshal socket open, waiting to be told to go."""
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    lat, lng = ON_ROUTE
    options = {"rate": opts.rate, "duration": duration, "lat": lat, "lng": lng}
    proc = ctx.Process(target=clients.ingest_main, args=(child, urls, tokens, options), daemon=True)
    proc.start()
    ready = await asyncio.get_running_loop().run_in_executor(None, parent.recv)
    if ready != "ready":
        raise RuntimeError(f"the ingest process did not start: {ready!r}")
    return parent, proc


def ingest_figures(got: dict, opts, *, duration: float) -> dict:
    acks = [ns / 1e6 for ns in got["latencies"]]
    return {
        "marshals": opts.marshals,
        "rate": opts.rate,
        "acks": len(acks),
        "errors": got["errors"],
        "acks_per_s": round(len(acks) / max(1e-9, duration), 1),
        "p50_ms": round(pct(acks, 0.5), 1),
        "p99_ms": round(pct(acks, 0.99), 1),
        "max_ms": round(max(acks, default=0), 1),
    }


async def idle_cpu(pids: list[int], *, seconds: float) -> float:
    """The workers' CPU, in ms per second, while nothing is sent: what the sockets held open cost
    at rest (keepalive pings, the watch, the channel layer's polls)."""
    cpu0 = cpu_seconds(pids)
    await asyncio.sleep(seconds)
    ms = round((cpu_seconds(pids) - cpu0) * 1000 / seconds, 1)
    say(f"  at rest: the workers spend {ms} ms of CPU a second")
    return ms


async def ingest_cpu(urls, tokens, pids: list[int], opts, label: str) -> dict:
    """Check-ins alone (no fan-out): acks, their latency, and the server's CPU per ack, from the
    first check-in sent to the last ack received."""
    say(f"{label}: {len(tokens)} marshals, {opts.rate:.0f} check-ins/s for {opts.duration:.0f} s")
    parent, proc = await ingest_open(urls, tokens, opts, duration=opts.duration)
    cpu0, loop0 = cpu_seconds(pids), loop_cpu_seconds(pids)
    parent.send("go")
    got = await asyncio.get_running_loop().run_in_executor(None, parent.recv)
    cpu, loop = cpu_seconds(pids) - cpu0, loop_cpu_seconds(pids) - loop0
    proc.join(timeout=10)
    out = ingest_figures(got, opts, duration=opts.duration)
    out["cpu_us_per_ack"] = round(cpu * 1e6 / max(1, out["acks"]), 1)
    # Where it went: the event loops (frames in and out, deliveries) and the other threads (the
    # database thread's transactions, the publisher).
    out["loop_cpu_us_per_ack"] = round(loop * 1e6 / max(1, out["acks"]), 1)
    say(
        f"  {label}: {out['acks']} acks, p50 {out['p50_ms']} ms, p99 {out['p99_ms']} ms, "
        f"{out['errors']} errors, {out['cpu_us_per_ack']} µs server CPU per check-in "
        f"({out['loop_cpu_us_per_ack']} µs of it in the event loops)"
    )
    return out


async def run_ingest_floor(opts, sockets: int, database: str) -> dict:
    """The ingest floor on `database` (a SQLite file or a throwaway PostgreSQL cluster) with its
    own redis-server: bench/floor.py taking the same check-ins with `sockets` subscribers open,
    alone, then while alerts fan out to them."""
    label = f"ingest floor ({database})"
    tmp = Path(tempfile.mkdtemp(prefix="fieldops-bench-floor-"))
    try:
        with ExitStack() as stack:
            broker = redis_proc(tmp)
            broker.start()
            stack.callback(broker.stop)
            if database == "postgres":
                url = stack.enter_context(postgres_server(tmp))
            else:
                url = f"sqlite:///{tmp / 'floor.sqlite3'}"
            port = free_port()
            redis_url = f"redis://127.0.0.1:{broker.port}/0"
            server = subprocess.Popen(
                [sys.executable, "-m", "bench.floor", str(port), url, redis_url], cwd=ROOT
            )
            stack.callback(stop, server)
            wait_port(port, proc=server)
            urls, marshals, pids = [f"ws://127.0.0.1:{port}/"], [None] * opts.marshals, [server.pid]
            fleet = Fleet(opts.client_procs)
            try:
                await fleet.connect(urls, [None], sockets, f"{label} connect")
                pub = Publisher()
                await pub.open(f"ws://127.0.0.1:{port}/pub", None)
                out = await ingest_cpu(urls, marshals, pids, opts, label)
                out["under_fanout"] = await ingest_under_fanout(
                    fleet, pub, urls, marshals, opts, sockets=sockets, pids=pids, label=label
                )
                await pub.close()
                return out
            finally:
                await fleet.stop()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


async def ingest_under_fanout(fleet, pub, urls, tokens, opts, *, sockets, pids, label) -> dict:
    """Check-ins while alerts fan out to `sockets` sockets: the acks' figures, and the fan-out's
    p99 and losses meanwhile."""
    say(
        f"{label} under fan-out: {len(tokens)} marshals, {opts.rate:.0f} check-ins/s for "
        f"{opts.duration:.0f} s, while alerts fan out to {sockets} sockets"
    )
    parent, proc = await ingest_open(urls, tokens, opts, duration=opts.duration)
    parent.send("go")
    ingest_result = asyncio.get_running_loop().run_in_executor(None, parent.recv)
    under = await fanout(
        fleet,
        pub,
        sockets=sockets,
        alerts=int(opts.duration / opts.interval),
        interval=opts.interval,
        pids=pids,
        label=f"{label}: fan-out under ingest",
        during=ingest_result,
    )
    got = await ingest_result
    proc.join(timeout=10)
    out = ingest_figures(got, opts, duration=opts.duration)
    out["fanout_p99_ms"] = under.p99_ms
    out["fanout_lost"] = under.lost
    say(
        f"  {label} under fan-out: {out['acks']} acks, p50 {out['p50_ms']} ms, "
        f"p99 {out['p99_ms']} ms, {got['errors']} errors"
    )
    return out


async def run_fieldops(opts, steps: list[int], server: str, database: str) -> dict:
    say(f"fieldops: starting redis-server, {database} and {opts.workers} {server} workers")
    with bench_stack(
        workers=opts.workers, server=server, env_extra=opts.env, postgres=database == "postgres"
    ) as stack:
        say(f"  redis-server on 127.0.0.1:{stack.redis.port}")
        say(f"  {opts.workers} {server} workers on ports {', '.join(map(str, stack.ports))}")
        return await _run_fieldops(opts, steps, server, stack)


def marshal_tokens(stack: Running, organizer: str, count: int) -> list[str]:
    """Marshals without a march group: each check-in reaches the organizers only, so what the
    ingest phases measure is the check-in, not a fan-out to a group's marshals."""
    invite = stack.http(
        0, "POST", f"/api/events/{stack.slug}/invites", token=organizer,
        body={"role": "marshal", "label": "bench marshals", "max_uses": max(1, count)},
    )  # fmt: skip
    return [
        join(stack.base_url(), code=invite["code"], callsign=f"bench-marshal-{i}")["token"]
        for i in range(count)
    ]


async def _run_fieldops(opts, steps: list[int], server: str, stack: Running) -> dict:
    fleet = None
    out: dict = {}

    def token(role: str, callsign: str) -> str:
        return stack.join(role, callsign)["token"]

    try:
        urls = stack.ws_urls()
        pids = stack.worker_pids()
        tokens = [token("marcher", f"bench-marcher-{i}") for i in range(opts.tokens)]
        organizer = token("organizer", "bench-organizer")
        marshals = marshal_tokens(stack, organizer, opts.marshals)
        pub = Publisher()
        await pub.open(urls[0], organizer)
        await pub.publish()  # warm the publish path before anything is measured
        fleet = Fleet(opts.client_procs)
        await fleet.connect(urls, tokens, 1, "warm-up")  # imports and first queries on a worker
        rss0 = rss_bytes(pids)

        sweep = []
        for step in steps:
            await fleet.connect(urls, tokens, step, "connect")
            if step == steps[-1]:
                await asyncio.sleep(1)
                rss1 = rss_bytes(pids)
                out["memory"] = {
                    "connections": step,
                    "rss_mb": round(rss1 / 2**20, 1),
                    "kb_per_connection": round((rss1 - rss0) / 1024 / max(1, step - 1), 1),
                }
                say(f"  memory: {out['memory']['kb_per_connection']} KB of worker RSS per socket")
            sweep.append(await sweep_step(fleet, pub, opts, steps, step, pids, "fan-out"))
        out["fanout"], out["sweep"] = sweep[-1], sweep

        if opts.profile:
            out["profile"] = await profile_fanout(fleet, pub, opts, pids, steps[-1], server)

        # Before the ingest: check-ins still queued for a worker's database thread would be
        # measured as the storm's catch-up time.
        out["storm"] = await storm(fleet, pub, sockets=steps[-1], missed=opts.storm_missed)
        out["outage"] = await outage(fleet, pub, stack, opts, pids, sockets=steps[-1])

        idle = await idle_cpu(pids, seconds=3.0)
        out["ingest_cpu"] = await ingest_cpu(urls, marshals, pids, opts, "ingest")
        out["ingest_cpu"]["idle_cpu_ms_per_s"] = idle
        if opts.profile:
            name = f"{server}-{stack.database_url.split(':')[0]}"
            out["ingest_profile"] = await profile_ingest(urls, marshals, opts, pids, name)

        out["ingest"] = await ingest_under_fanout(
            fleet, pub, urls, marshals, opts, sockets=steps[-1], pids=pids, label="ingest"
        )

        await pub.close()
        return out
    finally:
        if fleet is not None:
            try:
                await fleet.stop()
            except TimeoutError:
                say("load generators did not stop in time")


async def outage(fleet: Fleet, pub: Publisher, stack: Running, opts, pids, *, sockets: int) -> dict:
    """Redis is killed under fan-out: alerts still reach every socket (from the journal), and once
    Redis is back, delivery returns to full speed by itself."""
    alerts = max(2, opts.sweep_alerts)
    say(f"outage: redis-server killed; {alerts} alerts to {sockets} sockets while it is down")
    stack.redis.kill()  # kill -9, as a crash would
    down = await fanout(
        fleet, pub, sockets=sockets, alerts=alerts, interval=opts.interval, pids=pids,
        label="fan-out with Redis down",
    )  # fmt: skip
    stack.redis.start()  # again on its port
    # The catch-up: how long after the restart every socket holds an alert written right then.
    restarted = time.monotonic()
    first = await fanout(
        fleet, pub, sockets=sockets, alerts=1, interval=0, pids=pids,
        label="first alert after Redis returns",
    )  # fmt: skip
    catch_up = first.max_ms / 1000 + (first.began - restarted)
    await asyncio.sleep(3)
    after = await fanout(
        fleet, pub, sockets=sockets, alerts=alerts, interval=opts.interval, pids=pids,
        label="fan-out after Redis returns",
    )  # fmt: skip
    result = {
        "clients": sockets,
        "down_p50_ms": down.p50_ms,
        "down_p99_ms": down.p99_ms,
        "down_max_ms": down.max_ms,
        "down_lost": down.lost,
        "down_cpu_us_per_delivery": down.cpu_us_per_delivery,
        "catch_up_s": round(catch_up, 2),
        "after_p99_ms": after.p99_ms,
        "after_lost": after.lost,
    }
    say(
        f"  outage: with Redis down every socket had each alert within {down.max_ms} ms; "
        f"{result['catch_up_s']} s after the restart, full speed again (p99 {after.p99_ms} ms)"
    )
    return result


async def storm(fleet: Fleet, pub: Publisher, *, sockets: int, missed: int) -> dict:
    """Every subscriber drops; entries are written meanwhile; all come back with `since`."""
    say(f"storm: {sockets} sockets drop, {missed} entries are written, all resume at once")
    await fleet.call("reset")
    await fleet.call("drop")
    seqs = [await pub.publish() for _ in range(missed)]
    began = time.time_ns()
    opened = sum(r["open"] for r in await fleet.call("resume"))
    deadline = time.monotonic() + 120
    while True:
        states = await fleet.call("caught_up", seqs)
        waiting = sum(s["waiting"] for s in states)
        if waiting == 0 or time.monotonic() > deadline:
            break
        say(f"  storm: {sockets - waiting}/{sockets} caught up")
        await asyncio.sleep(0.5)
    last = max(s["last_done"] for s in states)
    result = {
        "clients": sockets,
        "reopened": opened,
        "missed_entries": missed,
        "not_caught_up": waiting,
        "replayed": sum(s["replayed"] for s in states),
        "catch_up_s": round((last - began) / 1e9, 2),
    }
    say(f"  storm: all {sockets - waiting} caught up in {result['catch_up_s']} s")
    return result


def spy(pid: int, seconds: int, raw: Path) -> subprocess.Popen:
    """py-spy sampling process `pid` for `seconds` into `raw` (its raw stack format)."""
    # The virtualenv's py-spy, whether or not the virtualenv is on PATH.
    beside = Path(sys.executable).with_name("py-spy")
    spy_bin = str(beside) if beside.exists() else (shutil.which("py-spy") or "py-spy")
    return subprocess.Popen(
        [spy_bin, "record", "--pid", str(pid), "--duration", str(seconds), "--format", "raw",
         "--output", str(raw), "--rate", "200", "--nonblocking", "--gil"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip


async def profile_fanout(fleet, pub, opts, pids, sockets, server) -> dict:
    """py-spy samples worker 0 during a fan-out; returns the functions holding the most samples."""
    raw = opts.out / f"profile-{server}.txt"
    seconds = max(3, int(opts.duration))
    sampler = spy(pids[0], seconds, raw)
    await fanout(
        fleet,
        pub,
        sockets=sockets,
        alerts=int(seconds / opts.interval),
        interval=opts.interval,
        pids=pids,
        label="profiled fan-out",
    )
    await asyncio.get_running_loop().run_in_executor(None, sampler.wait)
    return summarize_profile(raw)


async def profile_ingest(urls, marshals, opts, pids, name: str) -> dict:
    """py-spy samples worker 0 during check-ins alone (after the measured run: the sampler costs
    the worker CPU too)."""
    raw = opts.out / f"profile-ingest-{name}.txt"
    sampler = spy(pids[0], max(3, int(opts.duration)), raw)
    await ingest_cpu(urls, marshals, pids, opts, "profiled ingest")
    await asyncio.get_running_loop().run_in_executor(None, sampler.wait)
    return summarize_profile(raw)


def summarize_profile(path) -> dict:
    inclusive: dict[str, int] = {}
    own: dict[str, int] = {}
    total = 0
    if not path.exists():
        return {}
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = [
            f.split(" (")[0] + " (" + f.split(" (")[-1].split(":")[0].split("/")[-1] + ")"
            for f in stack.split(";")
        ]
        for name in set(frames):
            inclusive[name] = inclusive.get(name, 0) + n
        own[frames[-1]] = own.get(frames[-1], 0) + n
    top = sorted(inclusive.items(), key=lambda kv: -kv[1])[:25]
    top_own = sorted(own.items(), key=lambda kv: -kv[1])[:15]
    return {
        "samples": total,
        "inclusive_pct": {k: round(100 * v / total, 1) for k, v in top},
        "self_pct": {k: round(100 * v / total, 1) for k, v in top_own},
    }


def sweep_steps(clients_total: int) -> list[int]:
    steps = sorted({max(1, clients_total // 4), max(1, clients_total // 2), clients_total})
    return steps


async def main_async(opts) -> dict:
    raise_fd_limit()
    steps = [int(s) for s in opts.steps.split(",")] if opts.steps else sweep_steps(opts.clients)
    steps = sorted({s for s in steps if s <= opts.clients} | {opts.clients})
    began = time.monotonic()
    floor = await run_floor(opts, steps) if not opts.no_floor else None
    databases = {}
    for database in opts.databases:
        ingest_floor = None if opts.no_floor else await run_ingest_floor(opts, steps[-1], database)
        servers = {name: await run_fieldops(opts, steps, name, database) for name in opts.servers}
        databases[database] = {"ingest_floor": ingest_floor, "servers": servers}
    elapsed = time.monotonic() - began
    return {"floor": floor, "databases": databases, "elapsed_s": round(elapsed, 1)}
