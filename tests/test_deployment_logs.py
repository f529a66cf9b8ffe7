"""What the shipped deployment writes to its logs: no invite code, token, position or client address.

A day at the march runs through nginx (deploy/nginx.conf, with a throwaway certificate) in front of a
daphne and a uvicorn worker started by deploy/worker under production settings at LOG_LEVEL=INFO, on
PostgreSQL and Redis, as deploy/fieldops.env.example ships them: browsers follow invite links and talk over the socket with
their session, phones join over REST and talk with a bearer token, and the usual mishaps happen. Then
every log file the deployment wrote is searched for each secret and position it saw.
"""

import asyncio
import http.client
import http.cookiejar
import json
import re
import ssl
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import websockets
from cryptography.fernet import Fernet

from fieldops.kit.launcher import launch
from fieldops.kit.nginx import nginx_command, nginx_test
from fieldops.kit.processes import free_port

from .test_deploy_check import PRODUCTION_ENV

TIMEOUT = 30.0  # liveness only
# Each action carries its own position, so a hit names the path it leaked through.
POSITIONS = {
    "socket check-in (token)": {"lat": 40.4193712, "lng": -3.6932514},
    "socket check-in (session)": {"lat": 40.4187321, "lng": -3.6941832},
    "REST check-in": {"lat": 40.4201843, "lng": -3.6927141},
    "REST arrest": {"lat": 40.4176521, "lng": -3.6958241},
}
MARKER = "Arrestee-Marker-7Q2Z"


@dataclass
class Seen:
    """Everything secret or personal the scenario handled, to be searched for in the logs."""

    secrets: list[tuple[str, str]] = field(default_factory=list)

    def add(self, what: str, value: str) -> str:
        self.secrets.append((what, value))
        return value


class Site:
    """HTTPS client for one nginx: JSON for phones, a cookie jar and forms for browsers."""

    def __init__(self, base: str, cafile: Path):
        self.base = base
        self.ssl = ssl.create_default_context(cafile=str(cafile))
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPSHandler(context=self.ssl),
            urllib.request.HTTPCookieProcessor(self.jar),
        )

    def send(self, method: str, path: str, *, body=None, form=None, token=None, headers=None):
        """(status, body bytes) of one request; errors are answers too."""
        all_headers = dict(headers or {})
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            all_headers["Content-Type"] = "application/json"
        if form is not None:
            data = urllib.parse.urlencode(form).encode()
            all_headers["Content-Type"] = "application/x-www-form-urlencoded"
        if token:
            all_headers["Authorization"] = f"Bearer {token}"
        request = urllib.request.Request(
            self.base + path, data=data, headers=all_headers, method=method
        )
        try:
            with self.opener.open(request, timeout=TIMEOUT) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def json(self, method: str, path: str, **kwargs) -> dict:
        status, content = self.send(method, path, **kwargs)
        assert status == 200, (method, path, status, content[:500])
        return json.loads(content)

    def cookie(self, name: str) -> str:
        return next(c.value for c in self.jar if c.name == name)


async def socket_checkin(site: Site, slug: str, position: dict, *, headers, origin=None) -> None:
    """Open the event socket through nginx, check in at `position` (acknowledged), then send a
    frame the server refuses and close."""
    url = site.base.replace("https://", "wss://") + f"/ws/events/{slug}/"
    async with websockets.connect(
        url, ssl=site.ssl, additional_headers=headers, origin=origin, open_timeout=TIMEOUT
    ) as ws:
        assert json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))["type"] == "hello"
        for data, expected in [({**position, "note": MARKER}, "ack"), ({"lat": 999}, "error")]:
            frame_id = str(uuid.uuid4())
            await ws.send(json.dumps({"type": "checkin", "id": frame_id, "data": data}))
            while True:
                reply = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
                if reply.get("id") == frame_id:
                    assert reply["type"] == expected, reply
                    break


def day_at_the_march(site: Site, seed: dict, seen: Seen, public_url: str) -> None:
    """Joins, actions and mishaps of a day, through one nginx."""
    slug, codes = seed["event"], {r: i["code"] for r, i in seed["invites"].items()}
    for role, code in codes.items():
        seen.add(f"demo {role} invite code", code)

    def join(role: str, callsign: str) -> str:
        reply = site.json("POST", "/api/join", body={"code": codes[role], "callsign": callsign})
        return seen.add(f"{role} token", reply["token"])

    organizer, legal, marshal = join("organizer", "Kite"), join("legal", "Lark"), None
    invite = site.json(
        "POST", f"/api/events/{slug}/invites", token=organizer, body={"role": "medic"}
    )
    code = seen.add("created invite code", invite["code"])
    marshal = join("marshal", "Wren")

    # A browser opens the invite link, confirms, and is on its page with a session.
    assert site.send("GET", f"/join/{code}/")[0] == 200
    form = {"csrfmiddlewaretoken": site.cookie("csrftoken"), "callsign": "Heron"}
    joined = site.send("POST", f"/join/{code}/", form=form, headers={"Origin": public_url})
    assert joined[0] == 200, joined
    session = seen.add("session cookie", site.cookie("sessionid"))
    seen.add("CSRF token", site.cookie("csrftoken"))

    checkin = {**POSITIONS["REST check-in"], "note": MARKER}
    site.json("POST", f"/api/events/{slug}/checkins", token=marshal, body=checkin)
    arrest = {**POSITIONS["REST arrest"], "arrestee_description": MARKER, "agency": MARKER}
    site.json("POST", f"/api/events/{slug}/arrests", token=legal, body=arrest)
    site.json("GET", f"/api/events/{slug}/journal?since=0", token=organizer)
    site.json("GET", f"/api/events/{slug}/map", token=organizer)

    asyncio.run(
        socket_checkin(
            site, slug, POSITIONS["socket check-in (token)"],
            headers={"Authorization": f"Bearer {marshal}"},
        )
    )  # fmt: skip
    asyncio.run(
        socket_checkin(
            site, slug, POSITIONS["socket check-in (session)"],
            headers={"Cookie": f"sessionid={session}"}, origin=public_url,
        )
    )  # fmt: skip

    # Mishaps: a mistyped link, a form sent without its cookie, a phone holding a dead token.
    unknown = seen.add("mistyped invite code", "Mistyped" + code[8:])
    assert site.send("GET", f"/join/{unknown}/")[0] == 404
    site.jar.clear()
    assert site.send("POST", f"/join/{code}/", form={"callsign": "Ibis"})[0] == 403
    dead = seen.add("dead token", "Dead" + organizer[4:])
    assert site.send("GET", f"/api/events/{slug}", token=dead)[0] == 401
    assert site.send("GET", f"/api/events/{slug}/journal?code={code}", token=dead)[0] == 401


def production_env(**overrides: str) -> dict:
    """Production settings for a launched stack, as deploy/fieldops.env.example ships them, with a
    fresh master key; the launcher names the database, Redis, the public URL and trusted origins."""
    env = {k: v for k, v in PRODUCTION_ENV.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.update(
        FIELD_ENCRYPTION_KEYS=Fernet.generate_key().decode(),
        ALLOWED_HOSTS="127.0.0.1",
        LOG_LEVEL="INFO",
        **overrides,
    )
    return env


def deployment_logs(stack) -> dict[str, str]:
    """Stop nginx, the workers and Redis, so their logs are complete; then every log they wrote,
    by its path under the stack's directory. PostgreSQL's own log is the operator's to configure
    (docs/deployment.md) and names its listening address, so it is left out."""
    for proc in [*(p.proc for p in stack.nginxes), *stack.workers, stack.redis]:
        proc.stop()
    return {
        str(path.relative_to(stack.tmp)): path.read_text(errors="replace")
        for path in sorted(stack.tmp.rglob("*.log"))
        if path.relative_to(stack.tmp).parts[0] != "pg"
    }


def server_ports(stack) -> set[int]:
    """Ports the stack's servers listen on: an address with one of them is no client's."""
    ports = {stack.redis.port, *stack.ports}
    return ports | {port for p in stack.nginxes for port in (p.http_port, p.https_port)}


def needle(coordinate: float) -> str:
    """A coordinate to five decimals (about a metre): a leak in whatever precision it is printed
    (the positions above round and truncate alike at five)."""
    text = f"{abs(coordinate):.7f}"
    return text[: text.index(".") + 6]


def leaks(logs: dict[str, str], seen: Seen, server_ports: set[int]) -> list[str]:
    """Every secret, position, marker and client address found, as "log: what"."""
    needles = [*seen.secrets, ("personal text", MARKER)]
    for what, position in POSITIONS.items():
        needles += [(f"{what} latitude", needle(position["lat"]))]
        needles += [(f"{what} longitude", needle(position["lng"]))]
    # The servers' own listening addresses are no one's; any other 127.0.0.1 is a client's.
    ports = "|".join(str(p) for p in sorted(server_ports))
    client = re.compile(rf"^.*127\.0\.0\.1(?!:(?:{ports})\b).*$", re.MULTILINE)
    found = []
    for name, text in logs.items():
        found += [f"{name}: {what} {value!r}" for what, value in needles if value in text]
        found += [f"{name}: a client address in {line!r}" for line in client.findall(text)]
    return found


def test_the_shipped_nginx_site_passes_nginx_t(tmp_path):
    command = nginx_command(
        tmp_path / "nginx",
        upstreams=[free_port(), free_port()],
        http_port=free_port(),
        https_port=free_port(),
    )
    checked = nginx_test(command)
    assert checked.returncode == 0, checked.stderr


def typed_without_https(port: int, code: str) -> int:
    """The status of a join link typed as http:// (nginx's port-80 server redirects it)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
    try:
        connection.request("GET", f"/join/{code}/")
        return connection.getresponse().status
    finally:
        connection.close()


@pytest.mark.multiworker
def test_a_day_through_the_shipped_deployment_leaves_nothing_personal_in_any_log():
    # One nginx in front of each worker, so daphne and uvicorn each see every kind of request.
    # The launcher makes the first proxy's origin the public URL and trusts every proxy's.
    env = production_env()
    seen = Seen()
    with launch(servers=("daphne", "uvicorn"), postgres=True, nginx=True, env=env) as stack:
        public_url = stack.env["PUBLIC_URL"]
        assert public_url == stack.proxies[0].origin
        for proxy in stack.proxies:
            site = Site(proxy.origin, proxy.certificate)
            day_at_the_march(site, stack.seed, seen, public_url)
            code = stack.seed["invites"]["marcher"]["code"]
            assert typed_without_https(proxy.http_port, code) == 301
        logs = deployment_logs(stack)
        found = leaks(logs, seen, server_ports(stack))
        assert not found, "\n".join(found)
        # ...and not because nothing was logged where it should have been.
        assert {"daphne-0-1.log", "uvicorn-1-1.log"} <= logs.keys(), logs.keys()
        for proxy in stack.proxies:
            name = proxy.directory.name
            access = logs[f"{name}/fieldops.access.log"]
            assert "/join/<code>/" in access and "/ws/events/" in access, access
            assert "GET /join/<code>/ 301" in access, access
            assert logs[f"{name}/access.log"] == "", "a request fell back to the default log"
        for name in ("daphne-0-1.log", "uvicorn-1-1.log"):
            actions = action_lines(logs[name])
            done = {(a["verb"], a["outcome"]) for a in actions}
            assert {("checkin", "ok"), ("checkin", "invalid"), ("arrest.log", "ok")} <= done, done


def action_lines(log: str) -> list[dict]:
    """The action lines of a worker's log, checking that every line it logged is one JSON object
    with the fields of docs/deployment.md ("Log format"), and each action names the request or
    the socket that carried it (Python's own warnings, written past logging, are skipped)."""
    logged = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    assert logged and all({"time", "level", "logger", "message"} <= line.keys() for line in logged)
    actions = [line for line in logged if line["logger"] == "fieldops.actions"]
    for action in actions:
        assert ("request_id" in action) != ("socket_id" in action), action
        assert action["duration_ms"] >= 0 and action["event"], action
    return actions
