"""Processes on 127.0.0.1 that a caller can start, kill, pause and start again, each logging to a
file in a temporary directory; a failed start raises with the tail of that log."""

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
START_TIMEOUT = 60.0  # generous: two cores shared with other runs

# Unprivileged account used to run PostgreSQL when running as root (initdb refuses root).
PG_USER = "fieldops-pg"


def free_port() -> int:
    """A TCP port nobody listens on right now (bind port 0 and let the kernel pick)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def healthy(port: int) -> bool:
    """Whether a worker on `port` answers /healthz with 200."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def log_tail(path: Path, chars: int = 3000) -> str:
    return path.read_text(errors="replace")[-chars:] if path.exists() else "(no log)"


def wait_until(check: Callable[[], bool], *, proc, what: str, log: Path) -> None:
    """Poll `check` until it holds; raise with the log's tail if `proc` exits or time runs out."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}:\n{log_tail(log)}")
        if check():
            return
        time.sleep(0.1)
    raise RuntimeError(f"{what} not ready after {START_TIMEOUT:.0f} s:\n{log_tail(log)}")


def stop(proc: subprocess.Popen) -> None:
    """SIGTERM, then SIGKILL if it has not gone within 10 s."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class Proc:
    """One server process on a fixed port: start, kill -9, SIGSTOP/SIGCONT, start again there.
    Each start logs to `<tmp>/<name>-<n>.log`."""

    def __init__(self, name: str, cmd: list[str], *, port: int, tmp: Path, env=None, ready=None):
        self.name, self.cmd, self.port, self.tmp, self.env = name, cmd, port, tmp, env
        self.ready = ready or (lambda: port_open(port))
        self.proc: subprocess.Popen | None = None
        self.starts = 0

    @property
    def log(self) -> Path:
        return self.tmp / f"{self.name}-{self.starts}.log"

    @property
    def pid(self) -> int:
        return self.proc.pid

    def spawn(self) -> None:
        """Start without waiting for readiness (see `wait_ready`)."""
        self.starts += 1
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(
                self.cmd, cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT
            )

    def wait_ready(self) -> None:
        wait_until(self.ready, proc=self.proc, what=self.name, log=self.log)

    def start(self) -> None:
        self.spawn()
        self.wait_ready()

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
            stop(self.proc)

    def logs(self) -> str:
        return "".join(
            (self.tmp / f"{self.name}-{n}.log").read_text(errors="replace")
            for n in range(1, self.starts + 1)
            if (self.tmp / f"{self.name}-{n}.log").exists()
        )


def redis_proc(tmp: Path) -> Proc:
    """A private redis-server without persistence on a free port (not started yet)."""
    port = free_port()
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    cmd = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
           "--appendonly", "no", "--dir", str(tmp)]  # fmt: skip
    return Proc("redis", cmd, port=port, tmp=tmp)


@contextmanager
def redis_server(tmp: Path) -> Iterator[str]:
    """A private redis-server, stopped on the way out; yields its redis:// URL."""
    redis = redis_proc(tmp)
    try:
        redis.start()
        yield f"redis://127.0.0.1:{redis.port}/0"
    finally:
        redis.stop()


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
            raise RuntimeError(f"PostgreSQL did not start:\n{log_tail(log)}") from exc
        subprocess.run(
            [str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres",
             "fieldops"],
            **run,
        )  # fmt: skip
        yield f"postgres://postgres@127.0.0.1:{port}/fieldops"
    finally:
        subprocess.run([*pg_ctl, "-m", "immediate", "-w", "stop"], **{**run, "check": False})
