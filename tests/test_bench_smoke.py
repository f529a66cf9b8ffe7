"""The benchmark harness end to end, at a tiny size: real redis-server, two workers under uvicorn
then under daphne, on SQLite then on a throwaway PostgreSQL cluster, and the floors.

No timing is asserted; what must hold at any size is that every alert reaches every socket once,
every check-in is acknowledged, every dropped client catches up, and a Redis outage loses nothing.
"""

import json
import shutil
import tempfile
from pathlib import Path

import pytest

from bench.__main__ import main, parse

pytestmark = pytest.mark.multiworker

CLIENTS = 12


def test_bench_runs_end_to_end_and_loses_nothing(tmp_path):
    out = tmp_path / "results.json"
    chart = tmp_path / "latency.png"
    main(
        [
            "--clients", str(CLIENTS), "--workers", "2", "--duration", "1", "--interval", "0.25",
            "--rate", "8", "--marshals", "2", "--tokens", "2", "--client-procs", "1",
            "--steps", f"{CLIENTS // 2},{CLIENTS}", "--sweep-alerts", "2", "--storm-missed", "2",
            "--server", "uvicorn,daphne", "--out", str(tmp_path),
        ]
    )  # fmt: skip
    results = json.loads(out.read_text())

    assert list(results["databases"]) == ["sqlite", "postgres"]
    assert list(results["servers"]) == ["uvicorn", "daphne"]
    assert results["servers"] == results["databases"]["sqlite"]["servers"]
    assert results["fanout"] == results["servers"]["uvicorn"]["fanout"]
    assert results["floor"]["lost"] == 0
    assert results["floor"]["cpu_us_per_delivery"] >= 0
    assert results["floor_storm"]["clients"] == CLIENTS
    assert results["floor_storm"]["not_caught_up"] == 0
    assert results["floor_storm"]["replayed"] == CLIENTS * 2
    for database in results["databases"].values():
        assert database["ingest_floor"]["errors"] == 0
        assert database["ingest_floor"]["acks"] == database["ingest_floor"]["acks_per_s"] * 1 > 0
        assert database["ingest_floor"]["cpu_us_per_ack"] >= 0
        # The same check-ins into the floor while it fans alerts out to every socket.
        under = database["ingest_floor"]["under_fanout"]
        assert under["errors"] == 0 and under["acks"] == under["acks_per_s"] * 1 > 0
        assert under["fanout_lost"] == 0
    sections = [s for d in results["databases"].values() for s in d["servers"].values()]
    for server in sections:
        # Check-ins alone: every one acknowledged, the server's CPU per check-in beside its floor.
        assert server["ingest_cpu"]["errors"] == 0
        assert server["ingest_cpu"]["acks"] == server["ingest_cpu"]["acks_per_s"] * 1 > 0
        assert server["ingest_cpu"]["cpu_us_per_ack"] > 0
        assert "ingest_cpu_us_per_ack" in server["ratio"]  # None when the tiny floor used no CPU
        assert server["fanout"]["clients"] == CLIENTS
        assert server["fanout"]["deliveries"] == CLIENTS * 4
        assert server["fanout"]["lost"] == 0
        assert server["fanout"]["cpu_us_per_delivery"] > 0
        assert "cpu_us_per_delivery" in server["ratio"]  # None when the tiny floor used no CPU
        assert server["ingest"]["errors"] == 0
        assert server["ingest"]["acks"] == server["ingest"]["acks_per_s"] * 1
        assert server["ingest"]["floor_p99_ms"] is not None and "ingest_p99_ms" in server["ratio"]
        assert server["storm"]["clients"] == CLIENTS
        assert server["storm"]["not_caught_up"] == 0
        assert server["storm"]["replayed"] == CLIENTS * 2
        # Redis killed under fan-out: every alert still reaches every socket, before and after.
        assert server["outage"]["down_lost"] == 0 and server["outage"]["after_lost"] == 0
        assert server["outage"]["catch_up_s"] > 0
        assert server["memory"]["kb_per_connection"] is not None
        assert [s["clients"] for s in server["sweep"]] == [CLIENTS // 2, CLIENTS]
    assert results["settings"]["workers"] == 2
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bench_output_goes_to_a_new_temporary_directory_unless_one_is_given(tmp_path):
    opts = parse([])
    try:
        assert opts.out.is_dir() and not any(opts.out.iterdir())
        assert opts.out.resolve().is_relative_to(Path(tempfile.gettempdir()).resolve())
    finally:
        shutil.rmtree(opts.out)
    assert parse(["--out", str(tmp_path / "run")]).out == tmp_path / "run"


def test_the_memory_bench_measures_what_idle_sockets_keep():
    import os
    import subprocess
    import sys

    # It makes its own database in a temporary directory, whatever the environment points at.
    unset = {"DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE"}
    env = {name: value for name, value in os.environ.items() if name not in unset}
    result = subprocess.run(
        [sys.executable, "-m", "bench.memory", "--sockets", "100", "--top", "3"],
        cwd=Path(__file__).resolve().parent.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    first, *lines = result.stdout.strip().splitlines()
    assert first.startswith("100 sockets: ") and "KB of Python heap per socket" in first
    assert len(lines) == 3 and all(" B  " in line for line in lines)
    # The Python heap an idle socket adds, as deployed: 17.1 KB at this size with uvicorn's own
    # protocol (its empty queue and event deques), 13.4 KB with realtime.sansio's. Counted, not timed.
    per_socket = float(first.split(": ")[1].split(" KB")[0])
    assert per_socket <= 15, first


def test_the_lock_bench_prints_how_long_a_batch_holds_the_events_lock():
    import os
    import subprocess
    import sys

    unset = {"DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE"}
    env = {name: value for name, value in os.environ.items() if name not in unset}
    result = subprocess.run(
        [sys.executable, "-m", "bench.lock", "--database", "sqlite", "--size", "5",
         "--batches", "5", "--seconds", "1"],
        cwd=Path(__file__).resolve().parent.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    row = result.stdout.strip().splitlines()[-1].split()
    assert row[0] == "sqlite" and row[2] == "ms" and row[4] == "/s", result.stdout
    assert float(row[1]) > 0 and int(row[3].replace(",", "")) > 0
