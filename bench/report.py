"""results.json, the printed table with the issue's targets, and the latency chart."""

import platform
import time

TARGETS = {
    "cpu_ratio": 2.0,  # server CPU per delivery ≤ 2x the floor
    "fanout_p99_ms": 500.0,  # at 10,000 marchers over 2 workers
    "kb_per_connection": 20.0,  # at 20,000 idle connections
    "ingest_acks_per_s": 200.0,
    "ingest_p99_ms": 100.0,
    "storm_catch_up_s": 10.0,  # 10,000 clients
}


def _ratio(a, b):
    return round(a / b, 2) if a and b else None


def results_json(raw: dict, opts) -> dict:
    f = raw["fieldops"]
    floor = raw["floor"]
    fan = f["fanout"].public()
    out = {
        "label": opts.label,
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "settings": {
            "clients": opts.clients,
            "workers": opts.workers,
            "server": opts.server,
            "rate": opts.rate,
            "duration": opts.duration,
            "interval": opts.interval,
            "marshals": opts.marshals,
            "tokens": opts.tokens,
            "client_procs": opts.client_procs,
            "env": opts.env,
            "machine": f"{platform.machine()}, {_cores()} cores, Python {platform.python_version()}",
        },
        "fanout": fan,
        "floor": floor["final"].public() if floor else None,
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
        "ingest": f["ingest"],
        "storm": f["storm"],
        "memory": f["memory"],
        "elapsed_s": raw["elapsed_s"],
    }
    if floor:
        fl = out["floor"]
        out["ratio"] = {
            "cpu_us_per_delivery": _ratio(fan["cpu_us_per_delivery"], fl["cpu_us_per_delivery"]),
            "p50_ms": _ratio(fan["p50_ms"], fl["p50_ms"]),
            "p99_ms": _ratio(fan["p99_ms"], fl["p99_ms"]),
            "deliveries_per_s": _ratio(fan["deliveries_per_s"], fl["deliveries_per_s"]),
        }
    if "profile" in f:
        out["profile"] = f["profile"]
    return out


def _cores() -> int:
    import os

    return os.cpu_count() or 0


def _verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("met" if ok else "NOT met")


def table(r: dict) -> str:
    fan, fl, ing, st, mem = r["fanout"], r["floor"], r["ingest"], r["storm"], r["memory"]
    ratio = r.get("ratio", {})
    rows = [
        ("fan-out clients", fan["clients"], fl["clients"] if fl else "", ""),
        ("fan-out deliveries", fan["deliveries"], fl["deliveries"] if fl else "", ""),
        ("fan-out lost", fan["lost"], fl["lost"] if fl else "", "must be 0"),
        ("fan-out p50 ms", fan["p50_ms"], fl["p50_ms"] if fl else "", ratio.get("p50_ms", "")),
        ("fan-out p99 ms", fan["p99_ms"], fl["p99_ms"] if fl else "", ratio.get("p99_ms", "")),
        ("fan-out max ms", fan["max_ms"], fl["max_ms"] if fl else "", ""),
        (
            "deliveries / s",
            fan["deliveries_per_s"],
            fl["deliveries_per_s"] if fl else "",
            ratio.get("deliveries_per_s", ""),
        ),
        (
            "server CPU µs / delivery",
            fan["cpu_us_per_delivery"],
            fl["cpu_us_per_delivery"] if fl else "",
            ratio.get("cpu_us_per_delivery", ""),
        ),
        ("ingest acks / s", ing["acks_per_s"], "", f"{ing['marshals']} marshals"),
        ("ingest ack p50 ms", ing["p50_ms"], "", ""),
        ("ingest ack p99 ms", ing["p99_ms"], "", f"{ing['errors']} errors"),
        ("fan-out p99 ms under ingest", ing["fanout_p99_ms"], "", f"lost {ing['fanout_lost']}"),
        ("storm clients", st["clients"], "", f"{st['missed_entries']} entries missed each"),
        ("storm catch-up s", st["catch_up_s"], "", f"{st['not_caught_up']} not caught up"),
        ("memory KB / connection", mem["kb_per_connection"], "", f"{mem['connections']} sockets"),
    ]
    width = max(len(r[0]) for r in rows)
    lines = [f"{'':{width}}  {'fieldops':>10}  {'floor':>10}  ratio / note", "-" * (width + 40)]
    lines += [f"{a:{width}}  {b!s:>10}  {c!s:>10}  {d}" for a, b, c, d in rows]
    lines += ["", "targets (issue 5 §2; the full-size ones need --clients 10000 / 20000):"]
    cpu_ratio = ratio.get("cpu_us_per_delivery")
    checks = [
        ("CPU/delivery ≤ 2x floor", cpu_ratio, cpu_ratio is not None and cpu_ratio <= 2),
        (
            f"p99 < 500 ms at {fan['clients']} clients, 0 lost",
            fan["p99_ms"],
            fan["p99_ms"] < TARGETS["fanout_p99_ms"] and fan["lost"] == 0,
        ),
        (
            "memory < 20 KB / connection",
            mem["kb_per_connection"],
            mem["kb_per_connection"] < TARGETS["kb_per_connection"],
        ),
        (
            f"{ing['rate']:.0f} check-ins/s acked, p99 < 100 ms",
            ing["p99_ms"],
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
    lines += [f"  {_verdict(ok):8} {name}: {value}" for name, value, ok in checks]
    return "\n".join(lines)


def chart(raw: dict, path) -> None:
    """p50 and p99 delivery latency against the number of clients, Fieldops and the floor."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
    sweep = raw["fieldops"]["sweep"]
    xs = [s.clients for s in sweep]
    ax.plot(xs, [s.p99_ms for s in sweep], "o-", color="#c0392b", label="Fieldops p99")
    ax.plot(xs, [s.p50_ms for s in sweep], "o--", color="#c0392b", alpha=0.6, label="Fieldops p50")
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
