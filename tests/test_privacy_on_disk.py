"""The subpoena drill: what whoever obtains the server finds of an event after its retention.

Against a real SQLite file and a real PostgreSQL cluster, with a real daphne worker and Redis:
marker strings and distinctive positions go into every free-text and position field through the
REST API; the event is aged past its retention and `purge_personal_data` runs. Then the raw
database files (SQLite's main file, -wal and -shm; every file of PostgreSQL's data directory,
pg_wal included, after a CHECKPOINT) and every Redis key (DUMP) are scanned for the markers and
positions in clear, and every Fernet token found is tried with the master key; every token that
opens to a key is tried as a key on every Fernet token and every sealed (v2) value in turn (what
an attacker holding the master key would do). Callsigns are field pseudonyms, not personal data
(docs/deployment.md).
"""

import json
import re
import shutil
import struct
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis
from cryptography.exceptions import InvalidTag
from cryptography.fernet import Fernet, InvalidToken

from .servers import (
    Stack,
    asgi_workers,
    manage,
    project_env,
    redis_and_database,
)
from .test_retention import opened_as_documented

pytestmark = pytest.mark.multiworker

MASTER = Fernet.generate_key().decode()
# PostgreSQL: the purge runs with a new master key first, then the old one is retired.
ROTATED = Fernet.generate_key().decode()

POSITIONS = {
    "checkin": (40.41234567, -3.70987654),
    "checkin_other": (40.41276543, -3.70912345),
    "medic": (40.41212121, -3.70878787),
    "incident": (40.41187654, -3.71023456),
    "sos": (40.41298765, -3.70934567),
    "arrest": (40.41154321, -3.71054321),
}
ARREST_TEXT = (
    "agency", "arrestee_description", "officers", "dispersal_details", "force_details",
    "stated_reason", "vehicle", "taken_to", "welfare_notes", "witnesses", "notes",
)  # fmt: skip
MARKERS = {
    name: f"zq{name.replace('_', '')}mark7"
    for name in ("checkin_note", "incident_text", "sos_note", "change_note", "alert_text")
    + ARREST_TEXT
}
FERNET_TOKEN = re.compile(rb"gAAAAA[A-Za-z0-9_\-]{40,}={0,2}")
# A sealed value (fieldops/crypto.py). A lookahead: a value stored right after another one runs on
# into its "v2", and that "v2:" must still start a match of its own.
SEALED = re.compile(rb"(?=v2:([0-9a-f]{16}):([A-Za-z0-9_\-]{40,}={0,2}))")


def needles() -> dict[str, list[bytes]]:
    """Each marker, and each coordinate as text and as an IEEE double in either byte order."""
    found = {name: [text.encode()] for name, text in MARKERS.items()}
    for name, (lat, lng) in POSITIONS.items():
        for axis, value in (("lat", lat), ("lng", lng)):
            found[f"{name}.{axis}"] = [
                repr(value).encode(),
                struct.pack("<d", value),
                struct.pack(">d", value),
            ]
    return found


# --- Running the drill ----------------------------------------------------------------------------


@dataclass
class Drill:
    vendor: str
    stack: Stack
    env: dict
    redis_url: str
    files: list[Path] = field(default_factory=list)
    outcome: dict = field(default_factory=dict)


@contextmanager
def drill_stack(*, postgres: bool) -> Iterator[Drill]:
    tmp = Path(tempfile.mkdtemp(prefix="fieldops-drill-"))
    try:
        with ExitStack() as stack:
            redis_url, database_url = redis_and_database(stack, tmp, postgres=postgres)
            env = project_env(database_url=database_url, redis_url=redis_url)
            env["FIELD_ENCRYPTION_KEYS"] = MASTER
            manage(env, "migrate", "--noinput")
            out = manage(env, "demo", "--json")
            seed = json.loads(out[out.index("{") :])
            ports = stack.enter_context(asgi_workers(["daphne"], env=env, tmp=tmp))
            yield Drill(
                vendor="postgresql" if postgres else "sqlite",
                stack=Stack(ports=ports, seed=seed, tmp=tmp, database_url=database_url),
                env=env,
                redis_url=redis_url,
            )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def plant(stack: Stack) -> None:
    """A marker or a distinctive position in every free-text and position field, over REST."""
    slug = stack.slug
    one = stack.join("marshal", "drill-m1")["token"]
    two = stack.join("marshal", "drill-m2")["token"]
    medic = stack.join("medic", "drill-medic")["token"]
    legal = stack.join("legal", "drill-legal")["token"]
    organizer = stack.join("organizer", "drill-org")["token"]

    def post(token: str, path: str, body: dict) -> dict:
        return stack.http(0, "POST", f"/api/events/{slug}/{path}", token=token, body=body)

    def at(name: str) -> dict:
        lat, lng = POSITIONS[name]
        return {"lat": lat, "lng": lng}

    post(one, "checkins", {**at("checkin"), "status": "ok", "note": MARKERS["checkin_note"]})
    post(two, "checkins", {**at("checkin_other"), "status": "ok"})
    post(medic, "checkins", {**at("medic"), "status": "ok"})
    reported = post(
        one,
        "incidents",
        {**at("incident"), "kind": "police", "severity": "high",
         "description": MARKERS["incident_text"]},
    )  # fmt: skip
    incident = reported["entry"]["data"]["incident"]
    change = {"incident": incident, "status": "acknowledged", "note": MARKERS["change_note"]}
    post(organizer, "incident-updates", change)
    sos = post(two, "sos", {**at("sos"), "note": MARKERS["sos_note"]})
    assert sos["entry"]["type"] == "sos.raised"
    arrest = {name: MARKERS[name] for name in ARREST_TEXT}
    post(legal, "arrests", {**at("arrest"), "people_count": 2, **arrest})
    post(organizer, "alerts", {"text": MARKERS["alert_text"], "audience": "marshal"})


def django(drill: Drill, code: str) -> str:
    return manage(drill.env, "shell", "-c", code)


def checkpoint(drill: Drill) -> None:
    """Have PostgreSQL write every page it holds to the data files (more to scan, not less)."""
    if drill.vendor == "postgresql":
        django(drill, "from django.db import connection; connection.cursor().execute('CHECKPOINT')")


def database_files(drill: Drill) -> list[Path]:
    if drill.vendor == "sqlite":
        main = drill.stack.tmp / "fieldops.sqlite3"
        return [p for p in (main, Path(f"{main}-wal"), Path(f"{main}-shm")) if p.exists()]
    data = drill.stack.tmp / "pg" / "data"
    return [p for p in data.rglob("*") if p.is_file()]


def redis_dumps(url: str) -> list[bytes]:
    client = redis.Redis.from_url(url)
    try:
        return [client.dump(key) or b"" for key in client.scan_iter(count=1000)] + [
            b"".join(str(item).encode() for item in client.info("keyspace").items())
        ]
    finally:
        client.close()


def fernet_tokens(blobs: list[bytes]) -> set[bytes]:
    """Every string that may be a whole Fernet token. A database packs a row's columns without
    separators, so a token may run on into the next column: each run is cut at every length a
    token can have (57 + 16k bytes, base64-encoded)."""
    found = set()
    for run in {match for blob in blobs for match in FERNET_TOKEN.findall(blob)}:
        size = 57 + 16
        while (length := -(-size // 3) * 4) <= len(run):
            found.add(run[:length])
            size += 16
    return found


def sealed_values(blobs: list[bytes]) -> set[tuple[str, str]]:
    """(key id, token) of every string that may be a whole sealed value, cut as Fernet runs are (a
    token is base64: a multiple of 4 characters)."""
    found = set()
    for key_id, run in {match for blob in blobs for match in SEALED.findall(blob)}:
        for length in range(40, len(run) + 1, 4):
            found.add((key_id.decode(), run[:length].decode()))
    return found


def opened_values(raw_keys: list[bytes], sealed: set[tuple[str, str]]) -> list[bytes]:
    """Every sealed value that one of these data keys opens."""
    opened = []
    for raw in raw_keys:
        for key_id, token in sealed:
            try:
                opened.append(opened_as_documented(raw, key_id, token))
            except (InvalidTag, ValueError):
                continue
    return opened


def scan(blobs: list[bytes], *, master: str) -> dict:
    """What an attacker holding `master` learns from these bytes: markers in clear, and markers
    inside Fernet tokens opened by the master key, and inside Fernet tokens and sealed values
    opened by a data key that the master key opens."""
    wanted = needles()
    clear = sorted(
        name for name, forms in wanted.items() if any(f in blob for f in forms for blob in blobs)
    )
    tokens = fernet_tokens(blobs)
    keys, opened = [Fernet(master.encode())], []
    for token in tokens:
        try:
            opened.append(keys[0].decrypt(token))
        except InvalidToken:
            continue
    raw_keys = []
    for plain in list(opened):
        try:
            keys.append(Fernet(plain))  # a wrapped data key
        except ValueError:
            continue
        raw_keys.append(plain)
    opened += opened_values(raw_keys, sealed_values(blobs))
    for key in keys[1:]:
        for token in tokens:
            try:
                opened.append(key.decrypt(token))
            except InvalidToken:
                continue
    text = b"\n".join(opened)
    decrypted = sorted(name for name, forms in wanted.items() if any(f in text for f in forms[:1]))
    return {
        "clear": clear,
        "decrypted": decrypted,
        "tokens": len(tokens),
        "data_keys": len(keys) - 1,
    }


def scan_everything(drill: Drill, *, master: str) -> dict:
    checkpoint(drill)
    blobs = [path.read_bytes() for path in database_files(drill)]
    result = scan(blobs, master=master)
    result["redis"] = scan(redis_dumps(drill.redis_url), master=master)["clear"]
    return result


def report(drill: Drill, *extra: str) -> str:
    return manage(drill.env, "privacy_report", drill.stack.slug, *extra)


def age_past_retention(drill: Drill) -> None:
    django(
        drill,
        "from datetime import timedelta; from django.utils import timezone;"
        " from fieldops.models import Event; now = timezone.now();"
        f" Event.objects.filter(slug={drill.stack.slug!r}).update("
        " starts_at=now - timedelta(hours=90), ends_at=now - timedelta(hours=80),"
        " retention_hours=72)",
    )


def run_drill(drill: Drill) -> Drill:
    plant(drill.stack)
    drill.outcome["report_before"] = report(drill)
    drill.outcome["json_before"] = json.loads(report(drill, "--json"))
    drill.outcome["before"] = scan_everything(drill, master=MASTER)
    age_past_retention(drill)
    if drill.vendor == "postgresql":
        rotated = {**drill.env, "FIELD_ENCRYPTION_KEYS": f"{ROTATED},{MASTER}"}
        drill.outcome["purge"] = manage(rotated, "purge_personal_data")
        drill.env = {**drill.env, "FIELD_ENCRYPTION_KEYS": ROTATED}  # the old key is retired
        drill.outcome["after"] = scan_everything(drill, master=ROTATED)
        drill.outcome["after_with_retired_key"] = scan_everything(drill, master=MASTER)
    else:
        drill.outcome["purge"] = manage(drill.env, "purge_personal_data")
        drill.outcome["after"] = scan_everything(drill, master=MASTER)
    drill.outcome["report_after"] = report(drill)
    drill.outcome["json_after"] = json.loads(report(drill, "--json"))
    print(f"\n--- subpoena drill on {drill.vendor} ---")  # noqa: T201
    for step in ("report_before", "before", "purge", "after", "after_with_retired_key"):
        if step in drill.outcome:
            print(f"[{step}]\n{drill.outcome[step]}")  # noqa: T201
    print(f"[report_after]\n{drill.outcome['report_after']}")  # noqa: T201
    return drill


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def drill(request) -> Iterator[Drill]:
    with drill_stack(postgres=request.param == "postgresql") as running:
        yield run_drill(running)


# --- What it shows --------------------------------------------------------------------------------


def test_no_marker_or_position_is_ever_stored_in_clear(drill):
    assert drill.outcome["before"]["clear"] == []
    assert drill.outcome["before"]["redis"] == []


def test_before_the_purge_the_master_key_opens_every_marker_so_the_scan_sees_them(drill):
    assert drill.outcome["before"]["decrypted"] == sorted(needles())


def test_after_the_purge_no_marker_is_on_disk_in_clear_or_decryptable(drill):
    after = drill.outcome["after"]
    assert (after["clear"], after["decrypted"], after["data_keys"]) == ([], [], 0)


def test_after_the_purge_redis_holds_no_marker(drill):
    assert drill.outcome["after"]["redis"] == []


def test_the_privacy_report_lists_the_data_before_and_nothing_after(drill):
    before = {h["kind"]: h["count"] for h in drill.outcome["json_before"]["holdings"]}
    assert before["check-ins (position, note)"] == 3
    assert before["arrest records"] == 1 and before["SOS (position, note)"] == 1
    assert drill.outcome["json_after"]["total"] == 0
    assert "Total: 0 record(s) of personal data." in drill.outcome["report_after"]
    for text in (drill.outcome["report_before"], drill.outcome["report_after"]):
        assert not any(marker in text for marker in MARKERS.values())


def test_postgres_wal_keeps_the_wrapped_key_until_its_master_key_is_retired(drill):
    """Why docs/deployment.md asks to rotate the master key after a purge on PostgreSQL: its WAL
    (and any backup or replica) still holds the destroyed data key, wrapped by the old master
    key."""
    if drill.vendor != "postgresql":
        pytest.skip("SQLite's purge zeroes the deleted key and empties the WAL")
    assert drill.outcome["after_with_retired_key"]["data_keys"] >= 1


def test_the_drill_runs_against_the_database_it_names(drill):
    out = django(drill, "from django.db import connection; print(connection.vendor)")
    assert out.strip().splitlines()[-1] == drill.vendor
    assert database_files(drill)
