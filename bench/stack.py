"""The real stack on loopback: redis-server, W daphne workers on one SQLite file, a seeded demo event.

Every process started here is stopped by `Stack.stop()`, which the caller runs in a `finally`.
"""

import json
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A TCP port nobody listens on now (bind port 0 and let the kernel pick)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def raise_fd_limit() -> int:
    """Thousands of sockets need thousands of descriptors: lift the soft limit to the hard one."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def wait_port(port: int, *, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process {proc.args[0]} exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on port {port} after {timeout:.0f} s")


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of these processes so far."""
    total = 0.0
    for pid in pids:
        t = psutil.Process(pid).cpu_times()
        total += t.user + t.system
    return total


def rss_bytes(pids: list[int]) -> int:
    return sum(psutil.Process(pid).memory_info().rss for pid in pids)


@dataclass
class Stack:
    workers: int = 2
    server: str = "daphne"  # or "uvicorn"
    env_extra: dict = field(default_factory=dict)
    tmp: Path | None = None
    procs: list[subprocess.Popen] = field(default_factory=list)
    worker_procs: list[subprocess.Popen] = field(default_factory=list)
    ports: list[int] = field(default_factory=list)
    redis_port: int = 0
    redis_proc: subprocess.Popen | None = None
    seed: dict = field(default_factory=dict)

    # --- lifecycle --------------------------------------------------------------------------

    def start(self, log=print) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="fieldops-bench-"))
        self.redis_port = free_port()
        self.redis_start()
        log(f"redis-server on 127.0.0.1:{self.redis_port}")
        self._manage("migrate", "--noinput")
        demo = self._manage("demo", "--json")
        self.seed = json.loads(demo[demo.index("{") :])
        for i in range(self.workers):
            port = free_port()
            self.worker_procs.append(self._spawn(self._worker_cmd(port), log_name=f"worker{i}.log"))
            self.ports.append(port)
        for port, proc in zip(self.ports, self.worker_procs, strict=True):
            wait_port(port, proc=proc)
        log(f"{self.workers} {self.server} workers on ports {', '.join(map(str, self.ports))}")

    def redis_start(self) -> None:
        """Start redis-server on the stack's port (again, after `redis_kill`)."""
        redis = shutil.which("redis-server") or "/usr/bin/redis-server"
        cmd = [redis, "--port", str(self.redis_port), "--bind", "127.0.0.1", "--save", "",
               "--appendonly", "no", "--dir", str(self.tmp)]  # fmt: skip
        proc = self._spawn(cmd, log_name="redis.log")
        self.redis_proc = proc
        wait_port(self.redis_port, proc=proc)

    def redis_kill(self) -> None:
        """kill -9 redis-server, as a crash would."""
        self.redis_proc.kill()
        self.redis_proc.wait()

    def stop(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self.tmp is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)

    # --- helpers ----------------------------------------------------------------------------

    @property
    def env(self) -> dict:
        env = dict(os.environ)
        env.update(
            DJANGO_SETTINGS_MODULE="fieldops.settings.local",
            DEBUG="0",
            DATABASE_URL=f"sqlite:///{self.tmp / 'bench.sqlite3'}",
            REDIS_URL=f"redis://127.0.0.1:{self.redis_port}/0",
            SECRET_KEY="bench-only-secret-key-0123456789abcdefghijklmnopqrstuvwxyz",
            ALLOWED_HOSTS="127.0.0.1,localhost",
            PUBLIC_URL="http://127.0.0.1",
            LOG_LEVEL="WARNING",
            # The bench drives many frames per socket; the per-socket limit would refuse them.
            FIELDOPS_RATE_LIMIT_PER_MINUTE="1000000",
            # Its thousands of devices all join from 127.0.0.1.
            FIELDOPS_JOIN_RATE_PER_MINUTE="1000000",
            # Thousands of sockets share a few marcher tokens here; phones hold one or two each.
            FIELDOPS_MAX_SOCKETS_PER_CREDENTIAL="1000000",
            # Sweeps would add their own entries and database work to what is measured.
            FIELDOPS_WATCH_EMBEDDED="0",
        )
        env.update(self.env_extra)
        return env

    def _worker_cmd(self, port: int) -> list[str]:
        if self.server == "uvicorn":
            # Per-message compression is off: it costs CPU and ~64 KB of zlib state per socket.
            return [
                sys.executable,
                "-m",
                "uvicorn",
                "fieldops.asgi:application",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--no-access-log",
                "--ws",
                os.environ.get("BENCH_UVICORN_WS", "websockets-sansio"),
                "--ws-per-message-deflate",
                "false",
                "--backlog",
                "4096",
                "--lifespan",
                "off",
                "--log-level",
                "warning",
            ]
        return [
            sys.executable,
            "-m",
            "daphne",
            "-b",
            "127.0.0.1",
            "-p",
            str(port),
            "fieldops.asgi:application",
        ]

    def _spawn(self, cmd: list[str], *, log_name: str) -> subprocess.Popen:
        out = open(self.tmp / log_name, "wb")  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen(cmd, cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT)
        self.procs.append(proc)
        return proc

    def _manage(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if done.returncode != 0:
            raise RuntimeError(f"manage.py {args[0]} failed:\n{done.stderr[-2000:]}")
        return done.stdout

    def log_tail(self, name: str, chars: int = 2000) -> str:
        path = self.tmp / name if self.tmp else None
        return path.read_text(errors="replace")[-chars:] if path and path.exists() else ""

    def worker_pids(self) -> list[int]:
        return [p.pid for p in self.worker_procs]

    def ws_urls(self) -> list[str]:
        slug = self.seed["event"]
        return [f"ws://127.0.0.1:{port}/ws/events/{slug}/" for port in self.ports]

    def join(self, role: str, callsign: str) -> str:
        """Redeem the demo invite of this role over REST; return the bearer token."""
        body = json.dumps({"code": self.seed["invites"][role]["code"], "callsign": callsign})
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.ports[0]}/api/join",
            data=body.encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=30) as response:  # loopback only
            return json.loads(response.read())["token"]
