"""One launcher for a whole Fieldops on 127.0.0.1: Redis (or none), a database (a SQLite file or a
throwaway PostgreSQL cluster), `migrate` and the demo event, then N workers, each started through
deploy/worker under uvicorn or daphne as the systemd unit starts them, and optionally the shipped
nginx site in front of each. Everything lives in one temporary directory and is stopped in
`finally` blocks, failure or not.
"""

import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from .client import http_json, join, socket_url
from .nginx import nginx_command, nginx_test
from .processes import ROOT, Proc, free_port, healthy, postgres_server, redis_proc

SECRET_KEY = "kit-only-secret-key-0123456789abcdefghijklmnopqrstuvwxyz-not-for-production"


def project_env(*, database_url: str, redis_url: str | None, **overrides: str | None) -> dict:
    """Environment for manage.py and the workers: local settings pointed at the given services.
    `overrides` set variables, or unset them when None."""
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="fieldops.settings.local",
        DEBUG="0",
        DATABASE_URL=database_url,
        SECRET_KEY=SECRET_KEY,
        ALLOWED_HOSTS="127.0.0.1,localhost",
        PUBLIC_URL="http://127.0.0.1",
        LOG_LEVEL="WARNING",
        # Drivers send bursts from one socket; the per-socket limit is tested on its own.
        FIELDOPS_RATE_LIMIT_PER_MINUTE="100000",
        # Every device joins from 127.0.0.1; the per-address limit is tested on its own.
        FIELDOPS_JOIN_RATE_PER_MINUTE="100000",
        # Background sweeps would add entries the drivers do not expect.
        FIELDOPS_WATCH_EMBEDDED="0",
    )
    env.pop("REDIS_URL", None)
    if redis_url:
        env["REDIS_URL"] = redis_url
    for name, value in overrides.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def manage(env: dict, *args: str) -> str:
    """Run a manage.py command to completion; return its stdout."""
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return done.stdout


def seed_demo(env: dict) -> dict:
    """Migrate, create the demo event, and return what `manage.py demo --json` printed."""
    migrate(env)
    out = manage(env, "demo", "--json")
    return json.loads(out[out.index("{") :])


_MIGRATED: list[Path] = []  # this process's migrated SQLite database, made on first use


def migrate(env: dict) -> None:
    """`manage.py migrate`; a SQLite file not made yet is a copy of one this process migrated
    before. The schema is the same every time (no migration moves data), and migrating took six
    of the ten seconds of every launch."""
    url = env["DATABASE_URL"]
    target = Path(url.removeprefix("sqlite:///")) if url.startswith("sqlite:///") else None
    if target is None or target.exists():
        manage(env, "migrate", "--noinput")
        return
    if not _MIGRATED:
        directory = Path(tempfile.mkdtemp(prefix="fieldops-kit-migrated-"))
        atexit.register(shutil.rmtree, directory, ignore_errors=True)
        migrated = directory / "fieldops.sqlite3"
        manage({**env, "DATABASE_URL": f"sqlite:///{migrated}"}, "migrate", "--noinput")
        if Path(f"{migrated}-wal").exists():  # closed cleanly, SQLite leaves everything in the file
            raise RuntimeError(f"migrate left a write-ahead log beside {migrated}")
        _MIGRATED.append(migrated)
    shutil.copyfile(_MIGRATED[0], target)


def worker_proc(server: str, *, index: int, env: dict, tmp: Path, port: int | None = None) -> Proc:
    """deploy/worker under `server` ("daphne" or "uvicorn") with this interpreter (not started)."""
    port = port or free_port()
    return Proc(
        f"{server}-{index}",
        [str(ROOT / "deploy" / "worker"), str(port)],
        port=port, tmp=tmp, ready=lambda: healthy(port),
        env={**env, "FIELDOPS_SERVER": server, "PYTHON": sys.executable},
    )  # fmt: skip


@dataclass
class Proxy:
    """The shipped nginx site in front of one worker, or of all of them."""

    proc: Proc
    upstreams: list[int]
    http_port: int
    https_port: int
    directory: Path

    @property
    def origin(self) -> str:
        return f"https://127.0.0.1:{self.https_port}"

    @property
    def certificate(self) -> Path:
        return self.directory / "cert.pem"


@dataclass
class Running:
    """A launched Fieldops: its workers' ports, the demo seed, and the processes behind them."""

    ports: list[int]
    seed: dict
    tmp: Path
    database_url: str
    env: dict = field(default_factory=dict)
    redis: Proc | None = None
    workers: list[Proc] = field(default_factory=list)
    proxies: list[Proxy] = field(default_factory=list)
    front: Proxy | None = None  # the shipped site with every worker upstream, as deployed

    @property
    def slug(self) -> str:
        return self.seed["event"]

    @property
    def nginxes(self) -> list[Proxy]:
        """Every nginx started: one in front of each worker, then the one in front of all."""
        return [*self.proxies, *([self.front] if self.front else [])]

    def base_url(self, worker: int = 0) -> str:
        return f"http://127.0.0.1:{self.ports[worker]}"

    def ws_url(self, worker: int = 0) -> str:
        return socket_url(self.base_url(worker), self.slug)

    def ws_urls(self) -> list[str]:
        return [self.ws_url(i) for i in range(len(self.ports))]

    def worker_pids(self) -> list[int]:
        return [w.pid for w in self.workers]

    def http(self, worker: int, method: str, path: str, **request) -> dict:
        """A JSON request to one worker's REST API (`token`, `body`, `headers`, `timeout`);
        returns the decoded reply."""
        return http_json(self.base_url(worker), method, path, **request)

    def join(self, role: str, callsign: str, *, worker: int = 0) -> dict:
        """Redeem the demo invite for `role`; returns the join reply (token, participant, ...)."""
        code = self.seed["invites"][role]["code"]
        return join(self.base_url(worker), code=code, callsign=callsign)


# An nginx to start: the workers' ports it passes to, its http and https ports, its directory.
Front = tuple[list[int], int, int, Path]


def _public(ports: list[int], fronts: list[Front], *, at_worker: bool) -> dict:
    """PUBLIC_URL (and the trusted origins) for browsers: the first nginx, or the first worker."""
    if fronts:
        origins = [f"https://127.0.0.1:{https}" for _, _, https, _ in fronts]
        return {"PUBLIC_URL": origins[0], "CSRF_TRUSTED_ORIGINS": ",".join(origins)}
    return {"PUBLIC_URL": f"http://127.0.0.1:{ports[0]}"} if at_worker else {}


def start_proxy(front: Front, tmp: Path, procs: list) -> Proxy:
    """The shipped nginx site in front of the workers it names, checked with `nginx -t` and
    started; its process is added to `procs` before it starts, for the caller to stop."""
    upstreams, http_port, https_port, directory = front
    command = nginx_command(
        directory, upstreams=upstreams, http_port=http_port, https_port=https_port
    )
    checked = nginx_test(command)
    if checked.returncode != 0:
        raise RuntimeError(f"nginx -t failed:\n{checked.stderr}")
    proc = Proc(directory.name, [*command, "-g", "daemon off;"], port=https_port, tmp=tmp)
    procs.append(proc)
    proc.start()
    return Proxy(proc, upstreams, http_port, https_port, directory)


@contextmanager
def launch(
    *,
    servers: tuple[str, ...] = ("uvicorn",),
    postgres: bool = False,
    redis: bool = True,
    nginx: bool = False,
    front: bool = False,
    env: dict | None = None,
    public_at_worker: bool = False,
    prepare: Callable[[dict, dict], None] | None = None,
    prefix: str = "fieldops-kit-",
) -> Iterator[Running]:
    """Start a Fieldops with one worker per entry of `servers` and yield it once every worker
    answers /healthz (and every nginx its port).

    `nginx` puts the shipped nginx site in front of each worker (`proxies`), `front` one in
    front of all of them, as deployed (`front`). `env` adds to (or, with None, removes from)
    `project_env`. `public_at_worker` makes the first worker's address the public URL, as
    browsers need for their sockets' Origin; with nginx, the public URL is the first proxy's
    https origin and every proxy's is trusted (both over `env`). `prepare(env, seed)` runs after
    seeding, before any worker starts, with the environment the workers will get.
    """
    tmp = Path(tempfile.mkdtemp(prefix=prefix))
    procs: list[Proc] = []
    try:
        with ExitStack() as stack:
            broker = None
            if redis:
                broker = redis_proc(tmp)
                procs.append(broker)
                broker.start()
            if postgres:
                database_url = stack.enter_context(postgres_server(tmp))
            else:
                database_url = f"sqlite:///{tmp / 'fieldops.sqlite3'}"
            ports = [free_port() for _ in servers]
            # nginx-<i> in front of worker i, nginx-front in front of all
            fronts: list[Front] = [
                ([port], free_port(), free_port(), tmp / f"nginx-{i}")
                for i, port in enumerate(ports if nginx else [])
            ]
            fronts += [(ports, free_port(), free_port(), tmp / "nginx-front")] * front
            redis_url = f"redis://127.0.0.1:{broker.port}/0" if broker else None
            overrides = {**(env or {}), **_public(ports, fronts, at_worker=public_at_worker)}
            project = project_env(database_url=database_url, redis_url=redis_url, **overrides)
            seed = seed_demo(project)
            if prepare is not None:
                prepare(project, seed)
            workers = [
                worker_proc(server, index=i, env=project, tmp=tmp, port=port)
                for i, (server, port) in enumerate(zip(servers, ports, strict=True))
            ]
            procs.extend(workers)
            for worker in workers:
                worker.spawn()  # side by side: each worker's start-up is seconds of imports
            for worker in workers:
                worker.wait_ready()
            proxies = [start_proxy(each, tmp, procs) for each in fronts]
            yield Running(
                ports=ports, seed=seed, tmp=tmp, database_url=database_url, env=project,
                redis=broker, workers=workers, proxies=proxies[: len(ports) * nginx],
                front=proxies[-1] if front else None,
            )  # fmt: skip
    finally:
        for proc in reversed(procs):
            try:
                proc.stop()
            except Exception:  # noqa: BLE001, S110 - stopping what may already be gone
                pass
        shutil.rmtree(tmp, ignore_errors=True)
