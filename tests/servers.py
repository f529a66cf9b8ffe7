"""Real processes for the cross-process tests: redis-server, a throwaway PostgreSQL, ASGI workers.

Each helper is a context manager that binds to 127.0.0.1 on a free port and stops what it started on
the way out, failure or not. Output goes to a log file in a temporary directory, and a startup failure
raises with the tail of that log so the reason is in the test report.
"""

import glob
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT = 60.0  # generous: two cores shared with other test runs

# Unprivileged account used to run PostgreSQL when the tests run as root (initdb refuses root).
PG_USER = "fieldops-pg"


def free_port() -> int:
    """A TCP port nobody listens on right now (bind port 0 and let the kernel pick)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _log_tail(path: Path, chars: int = 3000) -> str:
    return path.read_text(errors="replace")[-chars:] if path.exists() else "(no log)"


def _wait(check, *, proc: subprocess.Popen | None, what: str, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}:\n{_log_tail(log)}")
        if check():
            return
        time.sleep(0.1)
    raise RuntimeError(f"{what} not ready after {START_TIMEOUT:.0f} s:\n{_log_tail(log)}")


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# --- Redis --------------------------------------------------------------------------------------


@contextmanager
def redis_server(tmp: Path) -> Iterator[str]:
    """A private redis-server with no persistence; yields its redis:// URL."""
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    port = free_port()
    log = tmp / "redis.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(tmp)],
            stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        _wait(lambda: _port_open(port), proc=proc, what="redis-server", log=log)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        _stop(proc)


# --- PostgreSQL ---------------------------------------------------------------------------------


def pg_bindir() -> Path:
    """The newest PostgreSQL server binaries installed under /usr/lib/postgresql."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parent.parent.name),
    )
    if not found:
        raise RuntimeError("PostgreSQL server binaries not found (apt-get install postgresql)")
    return Path(found[-1]).parent


def _pg_account() -> dict:
    """Popen arguments that run PostgreSQL unprivileged: as ourselves, or as PG_USER if root."""
    if os.geteuid() != 0:
        return {}
    try:
        pwd.getpwnam(PG_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", PG_USER],
            check=True, capture_output=True,
        )  # fmt: skip
    entry = pwd.getpwnam(PG_USER)
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


@contextmanager
def postgres_server(tmp: Path) -> Iterator[str]:
    """A throwaway PostgreSQL cluster in `tmp` with a database `fieldops`; yields its URL."""
    bindir = pg_bindir()
    account = _pg_account()
    pgdir = tmp / "pg"
    pgdir.mkdir()
    if account:
        os.chown(tmp, account["user"], account["group"])
        os.chown(pgdir, account["user"], account["group"])
    data, log = pgdir / "data", pgdir / "postgres.log"
    port = free_port()
    run = {"check": True, "capture_output": True, "text": True, "cwd": pgdir, **account}
    try:
        subprocess.run(
            [str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
             "-E", "UTF8", "--no-sync"],
            **run,
        )  # fmt: skip
    except subprocess.CalledProcessError as exc:
        raise RuntimeError(f"initdb failed:\n{exc.stdout}\n{exc.stderr}") from exc
    options = (
        f"-p {port} -k {pgdir} -c listen_addresses=127.0.0.1 -c fsync=off "
        "-c synchronous_commit=off -c full_page_writes=off -c max_connections=100"
    )
    pg_ctl = [str(bindir / "pg_ctl"), "-D", str(data)]
    try:
        try:
            subprocess.run(
                [*pg_ctl, "-o", options, "-l", str(log), "-w", "-t", "60", "start"], **run
            )
        except subprocess.CalledProcessError as exc:
            raise RuntimeError(f"PostgreSQL did not start:\n{_log_tail(log)}") from exc
        subprocess.run(
            [str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres",
             "fieldops"],
            **run,
        )  # fmt: skip
        yield f"postgres://postgres@127.0.0.1:{port}/fieldops"
    finally:
        subprocess.run([*pg_ctl, "-m", "immediate", "-w", "stop"], **{**run, "check": False})


# --- The Django project and its workers -----------------------------------------------------------


def project_env(*, database_url: str, redis_url: str | None) -> dict:
    """Environment for manage.py and the workers: local settings pointed at the given services."""
    env = dict(os.environ)
    env.pop("DJANGO_SETTINGS_MODULE", None)
    env.update(
        DJANGO_SETTINGS_MODULE="fieldops.settings.local",
        DEBUG="0",
        DATABASE_URL=database_url,
        SECRET_KEY="multiworker-test-secret-0123456789abcdefghijklmnopqrstuvwxyz",
        ALLOWED_HOSTS="127.0.0.1,localhost",
        PUBLIC_URL="http://127.0.0.1",
        LOG_LEVEL="WARNING",
        # Tests send bursts from one socket; the per-socket limit is tested elsewhere.
        FIELDOPS_RATE_LIMIT_PER_MINUTE="100000",
        # Every test device joins from 127.0.0.1; the per-address limit is tested elsewhere.
        FIELDOPS_JOIN_RATE_PER_MINUTE="100000",
        # Background sweeps would add entries the tests do not expect.
        FIELDOPS_WATCH_EMBEDDED="0",
    )
    if redis_url:
        env["REDIS_URL"] = redis_url
    else:
        env.pop("REDIS_URL", None)
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


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


@contextmanager
def asgi_workers(servers: list[str], *, env: dict, tmp: Path) -> Iterator[list[int]]:
    """One process per entry of `servers` ("daphne" or "uvicorn") serving fieldops.asgi; yields
    their ports once each answers /healthz."""
    procs: list[tuple[subprocess.Popen, int, Path]] = []
    try:
        for i, server in enumerate(servers):
            port = free_port()
            log = tmp / f"{server}-{i}.log"
            # deploy/worker, as the systemd unit runs it, with this interpreter.
            worker_env = {**env, "FIELDOPS_SERVER": server, "PYTHON": sys.executable}
            with open(log, "wb") as out:
                proc = subprocess.Popen(
                    [str(ROOT / "deploy" / "worker"), str(port)],
                    cwd=ROOT, env=worker_env, stdout=out, stderr=subprocess.STDOUT,
                )  # fmt: skip
            procs.append((proc, port, log))
        for proc, port, log in procs:
            _wait(lambda p=port: _healthy(p), proc=proc, what=f"worker on {port}", log=log)
        yield [port for _, port, _ in procs]
    finally:
        for proc, _, _ in procs:
            _stop(proc)


@dataclass
class Stack:
    """Workers sharing one database and one Redis, with the demo event seeded."""

    ports: list[int]
    seed: dict
    tmp: Path
    database_url: str

    @property
    def slug(self) -> str:
        return self.seed["event"]

    def ws_url(self, worker: int) -> str:
        return f"ws://127.0.0.1:{self.ports[worker]}/ws/events/{self.slug}/"

    def http(self, worker: int, method: str, path: str, *, token=None, body=None) -> dict:
        """A JSON request to one worker's REST API; returns the decoded reply."""
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.ports[worker]}{path}",
            data=json.dumps(body).encode() if body is not None else None,
            headers=headers,
            method=method,
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())

    def join(self, role: str, callsign: str, *, worker: int = 0) -> dict:
        """Redeem the demo invite for `role`; returns the join reply (token, participant, ...)."""
        code = self.seed["invites"][role]["code"]
        return self.http(worker, "POST", "/api/join", body={"code": code, "callsign": callsign})


def redis_and_database(stack: ExitStack, tmp: Path, *, postgres: bool) -> tuple[str, str]:
    """A private redis-server and a database (a SQLite file, or a PostgreSQL cluster) in `tmp`,
    stopped with `stack`; their URLs."""
    redis_url = stack.enter_context(redis_server(tmp))
    if postgres:
        return redis_url, stack.enter_context(postgres_server(tmp))
    return redis_url, f"sqlite:///{tmp / 'fieldops.sqlite3'}"


@contextmanager
def fieldops_stack(
    *, servers: tuple[str, ...] = ("daphne", "daphne"), postgres: bool = False
) -> Iterator[Stack]:
    """Redis, a database (SQLite file or PostgreSQL), migrate + demo, then a worker per server."""
    tmp = Path(tempfile.mkdtemp(prefix="fieldops-test-"))
    try:
        with ExitStack() as stack:
            redis_url, database_url = redis_and_database(stack, tmp, postgres=postgres)
            env = project_env(database_url=database_url, redis_url=redis_url)
            manage(env, "migrate", "--noinput")
            out = manage(env, "demo", "--json")
            seed = json.loads(out[out.index("{") :])
            ports = stack.enter_context(asgi_workers(list(servers), env=env, tmp=tmp))
            yield Stack(ports=ports, seed=seed, tmp=tmp, database_url=database_url)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# --- Processes a test can kill, pause and start again -------------------------------------------


class Proc:
    """One server process on a fixed port: start, kill -9, SIGSTOP/SIGCONT, start again there."""

    def __init__(self, name: str, cmd: list[str], *, port: int, tmp: Path, env=None, ready=None):
        self.name, self.cmd, self.port, self.tmp, self.env = name, cmd, port, tmp, env
        self.ready = ready or (lambda: _port_open(port))
        self.proc: subprocess.Popen | None = None
        self.starts = 0

    @property
    def log(self) -> Path:
        return self.tmp / f"{self.name}-{self.starts}.log"

    def start(self) -> None:
        self.starts += 1
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(
                self.cmd, cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT
            )
        _wait(self.ready, proc=self.proc, what=self.name, log=self.log)

    def kill(self) -> None:
        """kill -9: no shutdown, no goodbye to clients or brokers."""
        self.proc.kill()
        self.proc.wait()

    def pause(self) -> None:
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        self.proc.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        if self.proc is not None:
            self.resume()  # a stopped process cannot act on SIGTERM
            _stop(self.proc)

    def logs(self) -> str:
        return "".join(
            (self.tmp / f"{self.name}-{n}.log").read_text(errors="replace")
            for n in range(1, self.starts + 1)
            if (self.tmp / f"{self.name}-{n}.log").exists()
        )


@dataclass
class FaultStack(Stack):
    """A Stack whose Redis and workers are `Proc`s a test can kill, pause and start again (each
    worker comes back on its own port)."""

    redis: Proc
    workers: list[Proc]


@contextmanager
def fault_stack(
    *, servers: tuple[str, ...], postgres: bool, env_extra=None
) -> Iterator[FaultStack]:
    tmp = Path(tempfile.mkdtemp(prefix="fieldops-faults-"))
    procs: list[Proc] = []
    try:
        with ExitStack() as stack:
            port = free_port()
            redis = Proc(
                "redis",
                [shutil.which("redis-server") or "/usr/bin/redis-server", "--port", str(port),
                 "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(tmp)],
                port=port, tmp=tmp,
            )  # fmt: skip
            procs.append(redis)
            redis.start()
            if postgres:
                database_url = stack.enter_context(postgres_server(tmp))
            else:
                database_url = f"sqlite:///{tmp / 'fieldops.sqlite3'}"
            env = project_env(database_url=database_url, redis_url=f"redis://127.0.0.1:{port}/0")
            env.update(env_extra or {})
            manage(env, "migrate", "--noinput")
            out = manage(env, "demo", "--json")
            seed = json.loads(out[out.index("{") :])
            workers = []
            for i, server in enumerate(servers):
                wport = free_port()
                worker = Proc(
                    f"{server}-{i}",
                    [str(ROOT / "deploy" / "worker"), str(wport)],
                    port=wport, tmp=tmp,
                    env={**env, "FIELDOPS_SERVER": server, "PYTHON": sys.executable},
                    ready=lambda p=wport: _healthy(p),
                )  # fmt: skip
                procs.append(worker)
                workers.append(worker)
                worker.start()
            yield FaultStack(
                ports=[w.port for w in workers], seed=seed, tmp=tmp, database_url=database_url,
                redis=redis, workers=workers,
            )  # fmt: skip
            for proc in procs:
                proc.stop()
    finally:
        for proc in procs:
            try:
                proc.stop()
            except Exception:  # noqa: S110 - stopping what may already be gone
                pass
        shutil.rmtree(tmp, ignore_errors=True)
