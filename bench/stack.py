"""The real stack on loopback for the benchmark, from the kit's launcher: redis-server, W workers
started through deploy/worker on one SQLite file, a seeded demo event; and the process figures the
bench reads (CPU time, memory, descriptors).
"""

import resource
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager

import psutil

from fieldops.kit.launcher import Running, launch
from fieldops.kit.processes import ROOT, free_port

__all__ = ["ROOT", "bench_stack", "cpu_seconds", "free_port", "raise_fd_limit", "rss_bytes"]

BENCH_ENV = {
    # The bench drives many frames per socket; the per-socket limit would refuse them.
    "FIELDOPS_RATE_LIMIT_PER_MINUTE": "1000000",
    # Its thousands of devices all join from 127.0.0.1.
    "FIELDOPS_JOIN_RATE_PER_MINUTE": "1000000",
    # Thousands of sockets share a few marcher tokens here; phones hold one or two each.
    "FIELDOPS_MAX_SOCKETS_PER_CREDENTIAL": "1000000",
}


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


def loop_cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time so far of these processes' main threads: the event loops (the rest
    is the database thread, the publisher and the watch)."""
    total = 0.0
    for pid in pids:
        for thread in psutil.Process(pid).threads():
            if thread.id == pid:
                total += thread.user_time + thread.system_time
    return total


def rss_bytes(pids: list[int]) -> int:
    return sum(psutil.Process(pid).memory_info().rss for pid in pids)


@contextmanager
def bench_stack(
    *, workers: int, server: str, env_extra: dict, postgres: bool = False
) -> Iterator[Running]:
    """Redis and `workers` workers under `server` on a SQLite file or (`postgres`) a throwaway
    PostgreSQL cluster, the embedded watch off (the launcher's default), the limits above raised;
    a worker's log is printed if the block fails."""
    env = {**BENCH_ENV, **env_extra}
    with launch(
        servers=(server,) * workers, postgres=postgres, env=env, prefix="fieldops-bench-"
    ) as stack:
        try:
            yield stack
        except BaseException:
            for worker in stack.workers:
                print(f"{worker.name} log:\n{worker.logs()[-2000:]}", flush=True)
            raise
