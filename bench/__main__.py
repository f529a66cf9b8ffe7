"""`python -m bench`: the fan-out and check-in benchmark. See docs/performance.md."""

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path

from .report import chart, results_json, table
from .run import main_async, say


def parse(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument("--clients", type=int, default=2000, help="marcher sockets held open")
    p.add_argument("--workers", type=int, default=2, help="ASGI worker processes")
    p.add_argument(
        "--server",
        default="uvicorn,daphne",
        help="ASGI servers to run the workers under, each in turn (default uvicorn,daphne)",
    )
    p.add_argument(
        "--database",
        default="sqlite,postgres",
        help="databases to run every phase on, each in turn (default sqlite,postgres: a SQLite "
        "file, then a throwaway PostgreSQL cluster)",
    )
    p.add_argument("--rate", type=float, default=1000, help="check-ins per second, all marshals")
    p.add_argument("--duration", type=float, default=10, help="seconds of the fan-out and ingest")
    p.add_argument("--interval", type=float, default=0.5, help="seconds between two alerts")
    p.add_argument("--marshals", type=int, default=50, help="marshal sockets checking in")
    p.add_argument("--tokens", type=int, default=8, help="marcher tokens shared by the sockets")
    p.add_argument("--client-procs", type=int, default=2, help="load-generator processes")
    p.add_argument("--steps", default="", help="client counts for the chart (default C/4,C/2,C)")
    p.add_argument("--sweep-alerts", type=int, default=6, help="alerts per smaller chart step")
    p.add_argument("--storm-missed", type=int, default=3, help="entries written while dropped")
    p.add_argument("--profile", action="store_true", help="py-spy a worker during a fan-out")
    p.add_argument("--no-floor", action="store_true", help="skip the bare websockets floor")
    p.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra environment for the workers (repeatable)",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        help="directory for results.json, latency.png and profile-*.txt (default: a new temporary "
        "directory, printed at the end)",
    )
    p.add_argument("--no-chart", action="store_true", help="skip latency.png")
    p.add_argument("--label", default="", help="a name for this run in results.json")
    opts = p.parse_args(argv)
    opts.alerts = max(1, int(opts.duration / opts.interval))
    opts.env = dict(item.split("=", 1) for item in opts.env)
    opts.out = opts.out or Path(tempfile.mkdtemp(prefix="fieldops-bench-out-"))
    opts.out.mkdir(parents=True, exist_ok=True)
    opts.servers = [name.strip() for name in opts.server.split(",") if name.strip()]
    unknown = sorted(set(opts.servers) - {"daphne", "uvicorn"})
    if unknown or not opts.servers:
        p.error(f"--server: choose from daphne, uvicorn (got {', '.join(unknown) or 'none'})")
    opts.databases = [name.strip() for name in opts.database.split(",") if name.strip()]
    unknown = sorted(set(opts.databases) - {"sqlite", "postgres"})
    if unknown or not opts.databases:
        p.error(f"--database: choose from sqlite, postgres (got {', '.join(unknown) or 'none'})")
    return opts


def main(argv=None) -> dict:
    opts = parse(argv)
    began = time.monotonic()
    say(
        f"bench: {opts.clients} clients, {opts.workers} workers under {' then '.join(opts.servers)}, "
        f"on {' then '.join(opts.databases)}, {opts.rate:.0f} check-ins/s, "
        f"{opts.duration:.0f} s phases"
    )
    raw = asyncio.run(main_async(opts))
    results = results_json(raw, opts)
    written = [opts.out / "results.json"]
    written[0].write_text(json.dumps(results, indent=2) + "\n")
    if not opts.no_chart:
        written.append(opts.out / "latency.png")
        chart(raw, written[-1])
    print(table(results))
    written += sorted(opts.out.glob("profile-*.txt"))
    names = ", ".join(path.name for path in written)
    say(f"wrote {names} to {opts.out} in {time.monotonic() - began:.0f} s")
    return results


if __name__ == "__main__":
    main()
