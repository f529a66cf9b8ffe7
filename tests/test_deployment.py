"""The shipped deployment, end to end: nginx (deploy/nginx.conf, a throwaway certificate) over HTTPS
and WSS in front of a daphne and a uvicorn worker started by deploy/worker under production
settings, on PostgreSQL and Redis, as docs/deployment.md sets it up.

One nginx stands in front of each worker, so a client can be put on either, and one in front of
both, as deployed, for a rolling restart. Phones join, act and see each other's entries across
workers; both workers are restarted in turn while they keep writing, and every phone reconnects and
resumes with nothing lost; static files are served; a backup taken with pg_dump and restored into a
fresh database replays the same journal and opens the same personal data with the same keys. Last,
no log that nginx or the workers wrote holds a token, an invite code or a position.
"""

import asyncio
import functools
import json
import subprocess
import time
import urllib.parse
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from fieldops.kit.client import Client, http_json, socket_url
from fieldops.kit.launcher import launch, manage, worker_proc
from fieldops.kit.peer import Peer
from fieldops.kit.processes import ROOT, pg_bindir

from .test_delivery_under_faults import (
    assert_nothing_lost,
    caught_up,
    journal_rows,
    settled,
    traffic,
)
from .test_deployment_logs import (
    Seen,
    Site,
    deployment_logs,
    leaks,
    needle,
    production_env,
    server_ports,
)

pytestmark = pytest.mark.multiworker

TIMEOUT = 30.0  # liveness only
METRICS_TOKEN = "scrape-" + "x" * 40
HERE = {"lat": 40.4192468, "lng": -3.6933579}  # on the demo route; a needle for the logs
MARKER = "Backup-Marker-4K9W"


@pytest.fixture(scope="module")
def seen() -> Seen:
    return Seen()


@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    static = tmp_path_factory.mktemp("static")

    def collectstatic(env: dict, _seed: dict) -> None:
        manage(env, "collectstatic", "--noinput", "-v0")

    env = production_env(STATIC_ROOT=str(static), METRICS_TOKEN=METRICS_TOKEN)
    with launch(
        servers=("daphne", "uvicorn"), postgres=True, nginx=True, front=True, env=env,
        prepare=collectstatic, prefix="fieldops-deployment-",
    ) as stack:  # fmt: skip
        yield stack


def test_metrics_reach_the_host_but_never_the_public_site(deployment, sites):
    """Each worker answers Prometheus on its own loopback port; nginx answers 404 for everyone."""
    scrape = urllib.request.Request(
        f"{deployment.base_url(0)}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}
    )
    with urllib.request.urlopen(scrape, timeout=TIMEOUT) as reply:
        assert b"fieldops_open_sockets" in reply.read()
    for site in sites.values():
        status, _ = site.send("GET", "/metrics", token=METRICS_TOKEN)
        assert status == 404


@pytest.fixture(scope="module")
def sites(deployment) -> dict:
    """An HTTPS client for each nginx: "front" (every worker), 0 and 1 (one worker each)."""
    proxies = {"front": deployment.front, **dict(enumerate(deployment.proxies))}
    return {name: Site(proxy.origin, proxy.certificate) for name, proxy in proxies.items()}


@pytest.fixture(scope="module")
def people(deployment, sites, seen) -> dict:
    """Tokens of the phones that join through the front, by name."""
    seed, tokens = deployment.seed, {}
    seen.add("position latitude", needle(HERE["lat"]))
    seen.add("position longitude", needle(HERE["lng"]))
    for role, info in seed["invites"].items():
        seen.add(f"demo {role} invite code", info["code"])
    for name in ("organizer-0", "organizer-1", "marcher-0", "marshal-0", "marshal-1", "legal-0"):
        body = {"code": seed["invites"][name.split("-")[0]]["code"], "callsign": name}
        token = sites["front"].json("POST", "/api/join", body=body)["token"]
        tokens[name] = seen.add(f"{name} token", token)
    return tokens


def drive(coro, *, timeout: float = 240):
    """Run a scenario on a fresh event loop in its own thread."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, asyncio.wait_for(coro, timeout)).result()


def wss(site: Site, slug: str) -> dict:
    """Where and how a phone opens the event's socket through this nginx."""
    return {"url": socket_url(site.base, slug), "ssl": site.ssl}


# --- across workers ---------------------------------------------------------------------------------


async def each_sees_the_others_entries(slug: str, sites: dict, people: dict) -> None:
    on_a = await Client.open(**wss(sites[0], slug), token=people["organizer-0"])
    on_b = await Client.open(**wss(sites[1], slug), token=people["marshal-0"])
    try:
        alert = {"text": "Regroup at the fountain", "audience": "public", "level": "info"}
        sent = await on_a.act("alert.send", alert)
        assert (await on_b.wait_for(lambda e: e["seq"] == sent["seq"]))["type"] == "alert.sent"
        checked = await on_b.act("checkin", {**HERE, "note": "crossing"})
        entry = await on_a.wait_for(lambda e: e["seq"] == checked["seq"])
        assert entry["type"] == "checkin"
    finally:
        await on_a.close()
        await on_b.close()


def test_a_phone_on_each_worker_sees_the_others_entries_through_nginx(deployment, sites, people):
    assert [p.upstreams for p in deployment.proxies] == [[port] for port in deployment.ports]
    drive(each_sees_the_others_entries(deployment.slug, sites, people))


def test_static_files_are_served_through_nginx(sites):
    status, body = sites["front"].send("GET", "/static/fieldops/fieldops.css")
    assert status == 200
    assert body == (ROOT / "fieldops" / "static" / "fieldops" / "fieldops.css").read_bytes()


# --- a rolling restart ------------------------------------------------------------------------------


def alert_through(site: Site, slug: str, token: str, text: str) -> int:
    """A public alert through this nginx, sent again (same idempotency key) until a worker takes
    it; its seq."""
    body = {"text": text, "audience": "public", "level": "info"}
    key = {"Idempotency-Key": str(uuid.uuid5(uuid.NAMESPACE_OID, text))}
    deadline = time.monotonic() + TIMEOUT
    answers = []
    while time.monotonic() < deadline:
        status, reply = site.send(
            "POST", f"/api/events/{slug}/alerts", token=token, body=body, headers=key
        )
        if status == 200:
            return json.loads(reply)["seq"]
        answers.append((status, reply[:200]))
        time.sleep(0.2)
    raise AssertionError(f"no worker took the alert {text!r}: {answers[:3]} … {answers[-3:]}")


def restart(worker) -> None:
    """`systemctl restart fieldops@<port>`: SIGTERM, then start again on the same port."""
    worker.stop()
    worker.start()


async def rolling_restart(stack, sites: dict, people: dict) -> dict:
    loop = asyncio.get_running_loop()
    front = wss(sites["front"], stack.slug)
    since = sites["front"].json("GET", f"/api/events/{stack.slug}", token=people["organizer-0"])
    phones = {
        name: Peer([front["url"]], token, name, since=since["seq"], ssl=front["ssl"])
        for name, token in people.items()
        if name.split("-")[0] in ("organizer", "marcher", "marshal")
    }
    watchers = [p for name, p in phones.items() if not name.startswith("marshal")]
    marshals = [p for name, p in phones.items() if name.startswith("marshal")]
    stop = asyncio.Event()
    tasks = [asyncio.create_task(p.run(stop)) for p in phones.values()]
    writing = asyncio.create_task(traffic(marshals, stop, HERE))
    post = functools.partial(alert_through, sites["front"], stack.slug, people["organizer-1"])
    try:
        await caught_up(watchers, post, "connecting")
        moved = []  # how many phones each restart sent elsewhere
        for worker in stack.workers:
            before = sum(p.reconnects for p in phones.values())
            await loop.run_in_executor(None, restart, worker)
            await caught_up(watchers, post, f"restarting {worker.name}")
            moved.append(sum(p.reconnects for p in phones.values()) - before)
        writing.cancel()
        await settled(marshals)
        await caught_up(watchers, post, "the end")
        rows = await loop.run_in_executor(None, journal_rows, stack)
        began = time.monotonic()
        while any(w.last < rows[-1][0] for w in watchers if w.name.startswith("organizer")):
            assert time.monotonic() - began < TIMEOUT, "organizers never reached the end"
            await asyncio.sleep(0.05)
        reconnected = {p.name: p.reconnects for p in phones.values()}
    finally:
        stop.set()
        writing.cancel()
        for phone in phones.values():
            await phone.hang_up()
        for task in tasks:
            task.cancel()
        await asyncio.gather(writing, *tasks, return_exceptions=True)
    rows = [r for r in rows if r[0] > since["seq"]]
    return {"since": since["seq"], "rows": rows, "watchers": watchers, "marshals": marshals,
            "reconnected": reconnected, "moved": moved}  # fmt: skip


def test_a_rolling_restart_behind_nginx_loses_nothing(deployment, sites, people):
    result = drive(rolling_restart(deployment, sites, people))
    acked = assert_nothing_lost(result["rows"], result["since"], result["watchers"],
                                result["marshals"])  # fmt: skip
    print(f"\nrolling restart: {len(result['rows'])} entries, {len(acked)} acked check-ins, "
          f"phones moved by each restart: {result['moved']}")  # fmt: skip
    assert len(acked) > 20
    # Each restart closed some phones' sockets, and every phone came back through nginx.
    assert all(result["moved"]), result["moved"]
    assert all(count >= 1 for count in result["reconnected"].values()), result["reconnected"]


# --- backup and restore -----------------------------------------------------------------------------


def pg_tool(name: str, *args: str) -> None:
    done = subprocess.run(
        [str(pg_bindir() / name), *args], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, f"{name} failed:\n{done.stderr}"


async def replay(url: str, token: str) -> list[dict]:
    """Every journal entry a phone is replayed from the start."""
    client = await Client.open(url, token=token, since=0)
    try:
        await client.until(lambda: client.replayed is not None)
        return list(client.entries)
    finally:
        await client.close()


def test_a_backup_restored_into_a_fresh_database_replays_the_same_and_decrypts(
    deployment, sites, people, seen
):
    slug, organizer = deployment.slug, people["organizer-0"]
    arrest = {**HERE, "arrestee_description": MARKER, "agency": MARKER, "notes": MARKER}
    logged = sites["front"].json(
        "POST", f"/api/events/{slug}/arrests", token=people["legal-0"], body=arrest
    )
    arrest_id = logged["entry"]["data"]["arrest"]
    seen.add("personal text", MARKER)
    # As docs/deployment.md, "Backups": pg_dump -Fc, then pg_restore into a new database.
    dump = deployment.tmp / "fieldops.dump"
    pg_tool("pg_dump", "--format=custom", f"--file={dump}", deployment.database_url)
    address = urllib.parse.urlsplit(deployment.database_url)
    restored_url = deployment.database_url.rsplit("/", 1)[0] + "/fieldops_restored"
    connect = ["-h", address.hostname, "-p", str(address.port), "-U", address.username]
    pg_tool("createdb", *connect, "fieldops_restored")
    pg_tool("pg_restore", "--no-owner", "--exit-on-error", f"--dbname={restored_url}", str(dump))

    # A worker on the restored database, with the same FIELD_ENCRYPTION_KEYS.
    env = {**deployment.env, "DATABASE_URL": restored_url}
    restored = worker_proc("daphne", index=2, env=env, tmp=deployment.tmp)
    try:
        restored.start()
        ports = {"original": deployment.ports[0], "restored": restored.port}
        journals = {
            name: drive(replay(socket_url(f"http://127.0.0.1:{port}", slug), organizer))
            for name, port in ports.items()
        }
        # Straight to each worker, saying (as nginx would) that the request came over HTTPS.
        path, https = f"/api/events/{slug}/arrests/{arrest_id}", {"X-Forwarded-Proto": "https"}
        arrests = {
            name: http_json(f"http://127.0.0.1:{port}", "GET", path, token=organizer, headers=https)
            for name, port in ports.items()
        }
    finally:
        restored.stop()
    assert journals["restored"] == journals["original"]
    seqs = [e["seq"] for e in journals["original"]]
    assert seqs == list(range(1, len(seqs) + 1)) and len(seqs) > 20
    assert logged["seq"] in seqs
    assert arrests["restored"] == arrests["original"]
    assert arrests["restored"]["arrestee_description"] == MARKER


# --- last: the logs ---------------------------------------------------------------------------------


def test_nothing_personal_in_any_log_of_the_deployment(deployment, people, seen):
    """Stops the deployment: keep it the last test of this module."""
    logs = deployment_logs(deployment)
    found = leaks(logs, seen, server_ports(deployment))
    assert not found, "\n".join(found)
    # ...and not because nothing was logged where it should have been.
    assert {"daphne-0-2.log", "uvicorn-1-2.log"} <= logs.keys(), logs.keys()
    assert "/ws/events/" in logs["nginx-front/fieldops.access.log"]
