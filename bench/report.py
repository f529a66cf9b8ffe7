"""results.json, the printed table with the targets, and the latency chart."""

import platform
import time

TARGETS = {
    "cpu_ratio": 1.5,  # server CPU per delivery ≤ 1.5x the floor
    "fanout_p99_ms": 500.0,  # at 10,000 marchers over 2 workers
    "kb_per_connection": 16.0,  # at 20,000 idle connections
    "ingest_cpu_ms": 0.3,  # server CPU per acknowledged check-in
    "ingest_p99_ms": 100.0,  # while alerts fan out
    "storm_catch_up_s": 10.0,  # 10,000 clients
}


def _ratio(a, b):
    return round(a / b, 2) if a and b else None


def results_json(raw: dict, opts) -> dict:
    """The first database's first server's figures at the top level (the keys the targets name),
    that database's servers under `servers`, and every database's under `databases`."""
    floor = raw["floor"]
    databases = {
        db: {
            "ingest_floor": d["ingest_floor"],
            "servers": {
                name: _section(f, floor, d["ingest_floor"]) for name, f in d["servers"].items()
            },
        }
        for db, d in raw["databases"].items()
    }
    servers = databases[opts.databases[0]]["servers"]
    first = servers[opts.servers[0]]
    return {
        "label": opts.label,
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "settings": {
            "clients": opts.clients,
            "workers": opts.workers,
            "server": opts.servers[0],
            "servers": opts.servers,
            "databases": opts.databases,
            "rate": opts.rate,
            "duration": opts.duration,
            "interval": opts.interval,
            "marshals": opts.marshals,
            "tokens": opts.tokens,
            "client_procs": opts.client_procs,
            "env": opts.env,
            "machine": f"{platform.machine()}, {_cores()} cores, Python {platform.python_version()}",
        },
        **first,
        "floor": floor["final"].public() if floor else None,
        "floor_storm": floor.get("storm") if floor else None,
        "servers": servers,
        "databases": databases,
        "elapsed_s": raw["elapsed_s"],
    }


def _section(f: dict, floor: dict | None, ingest_floor: dict | None) -> dict:
    fan = f["fanout"].public()
    out = {
        "fanout": fan,
        "ratio": {},
        "sweep": [
            {
                "clients": s.clients,
                "p50_ms": s.p50_ms,
                "p99_ms": s.p99_ms,
                "cpu_us_per_delivery": s.cpu_us_per_delivery,
                "floor_p50_ms": fs.p50_ms if fs else None,
                "floor_p99_ms": fs.p99_ms if fs else None,
                "floor_cpu_us_per_delivery": fs.cpu_us_per_delivery if fs else None,
            }
            for s, fs in zip(
                f["sweep"], floor["sweep"] if floor else [None] * len(f["sweep"]), strict=True
            )
        ],
        "ingest": {
            **f["ingest"],
            "floor_p99_ms": ((ingest_floor or {}).get("under_fanout") or {}).get("p99_ms"),
        },
        "ingest_cpu": {
            **f["ingest_cpu"],
            "floor_cpu_us_per_ack": (ingest_floor or {}).get("cpu_us_per_ack"),
            "floor_p99_ms": (ingest_floor or {}).get("p99_ms"),
        },
        "storm": f["storm"],
        "outage": f["outage"],
        "memory": f["memory"],
    }
    if floor:
        fl = floor["final"].public()
        out["ratio"] = {
            key: _ratio(fan[key], fl[key])
            for key in ("cpu_us_per_delivery", "p50_ms", "p99_ms", "deliveries_per_s")
        }
        if floor.get("storm"):
            out["ratio"]["storm_catch_up_s"] = _ratio(
                f["storm"]["catch_up_s"], floor["storm"]["catch_up_s"]
            )
    if ingest_floor:
        out["ratio"]["ingest_cpu_us_per_ack"] = _ratio(
            f["ingest_cpu"]["cpu_us_per_ack"], ingest_floor["cpu_us_per_ack"]
        )
        out["ratio"]["ingest_p99_ms"] = _ratio(f["ingest"]["p99_ms"], out["ingest"]["floor_p99_ms"])
    if "profile" in f:
        out["profile"] = f["profile"]
    return out


def _cores() -> int:
    import os

    return os.cpu_count() or 0


def _verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("met" if ok else "NOT met")


def _columns(r: dict) -> list[tuple[str, dict]]:
    """(name, section) for each server on each database, in the order they ran."""
    return [
        (f"{name}/{db}", section)
        for db, d in r["databases"].items()
        for name, section in d["servers"].items()
    ]


ROWS = [
    ("fan-out clients", "fanout", "clients", None),
    ("fan-out deliveries", "fanout", "deliveries", None),
    ("fan-out lost (must be 0)", "fanout", "lost", None),
    ("fan-out p50 ms", "fanout", "p50_ms", "p50_ms"),
    ("fan-out p99 ms", "fanout", "p99_ms", "p99_ms"),
    ("fan-out max ms", "fanout", "max_ms", None),
    ("deliveries / s", "fanout", "deliveries_per_s", "deliveries_per_s"),
    ("server CPU µs / delivery", "fanout", "cpu_us_per_delivery", "cpu_us_per_delivery"),
    ("check-ins alone: offered / s", "ingest_cpu", "rate", None),
    ("check-ins alone: acks / s", "ingest_cpu", "acks_per_s", None),
    ("check-ins alone: ack p99 ms", "ingest_cpu", "p99_ms", None),
    ("check-ins alone: errors", "ingest_cpu", "errors", None),
    ("server CPU µs / check-in", "ingest_cpu", "cpu_us_per_ack", "ingest_cpu_us_per_ack"),
    ("  its floor (same database)", "ingest_cpu", "floor_cpu_us_per_ack", None),
    ("  of it in the event loops", "ingest_cpu", "loop_cpu_us_per_ack", None),
    ("  the workers at rest just before, CPU ms / s", "ingest_cpu", "idle_cpu_ms_per_s", None),
    ("under fan-out: check-ins offered / s", "ingest", "rate", None),
    ("under fan-out: acks / s", "ingest", "acks_per_s", None),
    ("under fan-out: ack p50 ms", "ingest", "p50_ms", None),
    ("under fan-out: ack p99 ms", "ingest", "p99_ms", "ingest_p99_ms"),
    ("  its floor (same database)", "ingest", "floor_p99_ms", None),
    ("under fan-out: errors", "ingest", "errors", None),
    ("fan-out p99 ms under ingest", "ingest", "fanout_p99_ms", None),
    ("storm clients", "storm", "clients", None),
    ("storm catch-up s", "storm", "catch_up_s", "storm_catch_up_s"),
    ("storm not caught up", "storm", "not_caught_up", None),
    ("Redis down: fan-out p99 ms", "outage", "down_p99_ms", None),
    ("Redis down: fan-out max ms", "outage", "down_max_ms", None),
    ("Redis down: lost (must be 0)", "outage", "down_lost", None),
    ("Redis back: catch-up s", "outage", "catch_up_s", None),
    ("Redis back: fan-out p99 ms", "outage", "after_p99_ms", None),
    ("memory KB / connection", "memory", "kb_per_connection", None),
]


def table(r: dict) -> str:
    """One column per server and database, then the floor; each one's ratio to its floor (the
    fan-out floor, or the ingest floor on the same database) beside it."""
    columns = _columns(r)
    width = max(len(row[0]) for row in ROWS)
    cell = max(10, *(len(name) for name, _ in columns))
    head = f"{'':{width}}" + "".join(f"  {n:>{cell}}" for n, _ in columns) + f"  {'floor':>10}"
    head += "".join(f"  {'÷ floor':>{cell}}" for _ in columns)
    lines = [head, "-" * len(head)]
    for label, part, key, ratio in ROWS:
        line = f"{label:{width}}"
        line += "".join(f"  {sec[part].get(key, '')!s:>{cell}}" for _, sec in columns)
        line += f"  {_floor_value(r, part, key)!s:>10}"
        if ratio:
            line += "".join(f"  {sec['ratio'].get(ratio)!s:>{cell}}" for _, sec in columns)
        lines.append(line)
    lines += ["", "targets (the full-size ones need --clients 10000 / 20000):"]
    for name, sec in columns:
        lines += [
            f"  {_verdict(ok):8} {name:16} {what}: {value}" for what, value, ok in _checks(sec)
        ]
    return "\n".join(lines)


def _floor_value(r: dict, part: str, key: str):
    if part == "fanout":
        return (r["floor"] or {}).get(key, "")
    if part == "storm":
        return (r.get("floor_storm") or {}).get(key, "")
    return ""


def _checks(sec: dict) -> list[tuple[str, object, bool | None]]:
    fan, ing, st, mem = sec["fanout"], sec["ingest"], sec["storm"], sec["memory"]
    alone = sec["ingest_cpu"]
    cpu_ratio = sec["ratio"].get("cpu_us_per_delivery")
    ingest_ratio = sec["ratio"].get("ingest_cpu_us_per_ack")
    under_ratio = sec["ratio"].get("ingest_p99_ms")
    return [
        (
            "CPU/delivery ≤ 1.5x floor",
            cpu_ratio,
            None if cpu_ratio is None else cpu_ratio <= TARGETS["cpu_ratio"],
        ),
        (
            "CPU/check-in ≤ 0.3 ms (µs; ÷ its floor)",
            f"{alone['cpu_us_per_ack']}; {ingest_ratio}",
            alone["cpu_us_per_ack"] <= TARGETS["ingest_cpu_ms"] * 1000 and alone["errors"] == 0,
        ),
        (
            f"p99 < 500 ms at {fan['clients']} clients, 0 lost",
            fan["p99_ms"],
            fan["p99_ms"] < TARGETS["fanout_p99_ms"] and fan["lost"] == 0,
        ),
        (
            "memory ≤ 16 KB / connection",
            mem["kb_per_connection"],
            mem["kb_per_connection"] <= TARGETS["kb_per_connection"],
        ),
        (
            f"{ing['rate']:.0f} check-ins/s acked under fan-out, p99 < 100 ms (ms; ÷ its floor)",
            f"{ing['p99_ms']}; {under_ratio}",
            ing["acks_per_s"] >= 0.95 * ing["rate"]
            and ing["p99_ms"] < TARGETS["ingest_p99_ms"]
            and ing["errors"] == 0,
        ),
        (
            f"storm of {st['clients']} caught up < 10 s",
            st["catch_up_s"],
            st["catch_up_s"] < TARGETS["storm_catch_up_s"] and st["not_caught_up"] == 0,
        ),
    ]


def chart(raw: dict, path) -> None:
    """p50 and p99 delivery latency against the number of clients, Fieldops and the floor."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
    colours = {"uvicorn": "#c0392b", "daphne": "#e67e22"}
    first = next(iter(raw["databases"].values()))["servers"]
    for name, f in first.items():
        xs = [s.clients for s in f["sweep"]]
        colour = colours.get(name, "#8e44ad")
        ax.plot(xs, [s.p99_ms for s in f["sweep"]], "o-", color=colour, label=f"{name} p99")
        ax.plot(
            xs,
            [s.p50_ms for s in f["sweep"]],
            "o--",
            color=colour,
            alpha=0.6,
            label=f"{name} p50",
        )
    if raw["floor"]:
        fs = raw["floor"]["sweep"]
        ax.plot(
            [s.clients for s in fs],
            [s.p99_ms for s in fs],
            "s-",
            color="#2c3e50",
            label="bare websockets p99",
        )
        ax.plot(
            [s.clients for s in fs],
            [s.p50_ms for s in fs],
            "s--",
            color="#2c3e50",
            alpha=0.6,
            label="bare websockets p50",
        )
    ax.axhline(500, color="#888", lw=0.8, ls=":", label="target p99 (500 ms)")
    ax.set_xlabel("connected clients")
    ax.set_ylabel("publish → receive latency (ms)")
    ax.set_title("Fan-out latency against clients (2-core machine, load generator included)")
    ax.title.set_fontsize(10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
