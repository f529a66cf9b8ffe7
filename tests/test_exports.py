"""Exports by role: a drill event run through its services gives, for each role and in each format
(CSV, GeoJSON and KML, each parsed back), exactly the rows the journal let that role see, with the
same values; arrests carry personal data only when asked for by those who may read it; a time
range narrows the rows; a purged event exports only counts."""

import csv
import io
import json
from datetime import timedelta

import pytest
from django.utils import timezone
from fastkml import kml

from fieldops.models import ArrestRecord, AuditEntry, Event, Incident
from fieldops.selectors import journal_visible
from fieldops.services.retention import event_purge

from .aftermath import run_drill
from .conftest import api_client
from .test_field_pages import joined

ROLES = ["organizer", "marshal_a", "legal", "medic", "marcher"]
FORMATS = ["csv", "geojson", "kml"]
# The entries a dataset's rows come from, the id they name, and the values both must carry.
FROM_JOURNAL = {
    "incidents": ({"incident.reported", "sos.raised"}, "incident",
                  ["kind", "severity", "lat", "lng", "reporter", "description"]),
    "arrests": ({"arrest.logged"}, "arrest",
                ["people_count", "lat", "lng", "agency", "observer", "dispersal_order"]),
    "checkins": ({"checkin"}, "checkin", ["participant", "callsign", "lat", "lng", "status"]),
    "alerts": ({"alert.sent"}, "alert", ["audience", "level", "text"]),
    "routes": ({"route.published"}, "route", ["version", "group", "note"]),
}  # fmt: skip
# What each role may export at all (visibility.READS).
ALLOWED = {
    "organizer": set(FROM_JOURNAL),
    "marshal_a": {"incidents", "checkins", "alerts", "routes"},
    "legal": {"incidents", "arrests", "alerts", "routes"},
    "medic": {"incidents", "checkins", "alerts", "routes"},
    "marcher": {"alerts", "routes"},
}


def download(client, slug: str, dataset: str, fmt: str, **query):
    reply = client.get(f"/api/events/{slug}/exports/{dataset}", {"format": fmt, **query})
    body = b"".join(reply.streaming_content).decode() if reply.streaming else reply.content
    return reply, body


def _value(text: str):
    """A CSV or KML cell back to the JSON value it was written from."""
    if text == "":
        return None
    if text in ("true", "false"):
        return text == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def parse(fmt: str, body: str) -> list[dict]:
    """The rows of an export, whatever its format, as dicts (with `_coords` from the geometry)."""
    if fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(body)))
        return [{k: _value(v) for k, v in row.items()} for row in rows]
    if fmt == "geojson":
        features = json.loads(body)["features"]
        return [f["properties"] | {"_coords": (f["geometry"] or {}).get("coordinates")}
                for f in features]  # fmt: skip
    document = kml.KML.from_string(body).features[0]
    rows = []
    for mark in document.features:
        row = {d.name: _value(d.value or "") for d in mark.extended_data.elements}
        if mark.geometry is not None and mark.geometry.geom_type == "Point":
            row["_coords"] = [mark.geometry.x, mark.geometry.y]
        rows.append(row)
    return rows


def visible_entries(participant, kinds: set[str]) -> dict[int, dict]:
    frames = [json.loads(f) for f in journal_visible(participant=participant, since=0,
                                                     limit=10_000)]  # fmt: skip
    return {f["data"][FROM_JOURNAL_ID[f["type"]]]: f["data"] for f in frames if f["type"] in kinds}


FROM_JOURNAL_ID = {kind: key for kinds, key, _ in FROM_JOURNAL.values() for kind in kinds}


@pytest.fixture
def drilled(cast, tokens):
    run_drill(cast)
    return cast


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("name", ROLES)
def test_each_roles_export_has_exactly_the_rows_the_journal_let_it_see(drilled, tokens, name, fmt):
    cast = drilled
    participant = getattr(cast, name)
    client = api_client(tokens[name])
    for dataset, (kinds, key, same) in FROM_JOURNAL.items():
        reply, body = download(client, cast.event.slug, dataset, fmt)
        if dataset not in ALLOWED[name]:
            assert reply.status_code == 403, (dataset, name)
            continue
        assert reply.status_code == 200, (dataset, name, body)
        expected = visible_entries(participant, kinds)
        rows = {row[key]: row for row in parse(fmt, body)}
        assert set(rows) == set(expected), (dataset, name, fmt)
        assert expected, (dataset, name)  # the drill gives every allowed role something to see
        for pk, data in expected.items():
            for field in same:
                value = rows[pk].get(field)  # KML leaves an empty value out
                want = data[field]
                if isinstance(want, float):
                    assert value == pytest.approx(want), (dataset, field)
                else:
                    assert value == want or (value is None and want in ("", None)), (
                        dataset, field, value, want)  # fmt: skip
            if "lat" in same and fmt != "csv":
                assert rows[pk]["_coords"] == pytest.approx([data["lng"], data["lat"]])


@pytest.mark.parametrize("fmt", FORMATS)
def test_routes_keep_their_line_in_every_format(drilled, tokens, fmt):
    _, body = download(api_client(tokens["marcher"]), drilled.event.slug, "routes", fmt)
    if fmt == "csv":
        lines = [json.loads(r["geometry"]) for r in csv.DictReader(io.StringIO(body))]
        assert [g["type"] for g in lines] == ["LineString", "LineString"]
    elif fmt == "geojson":
        assert [f["geometry"]["type"] for f in json.loads(body)["features"]] == ["LineString"] * 2
    else:
        marks = kml.KML.from_string(body).features[0].features
        assert [m.geometry.geom_type for m in marks] == ["LineString", "LineString"]


def test_marchers_export_only_public_places(drilled, tokens):
    slug = drilled.event.slug
    _, theirs = download(api_client(tokens["marcher"]), slug, "places", "geojson")
    _, everything = download(api_client(tokens["organizer"]), slug, "places", "geojson")
    names = [f["properties"]["name"] for f in json.loads(theirs)["features"]]
    assert names == ["Medic tent"]
    assert len(json.loads(everything)["features"]) == 3  # and the private van and zone


@pytest.mark.parametrize("fmt", FORMATS)
def test_arrests_carry_personal_data_only_when_asked_and_each_reading_is_audited(
    drilled, tokens, fmt
):
    client, slug = api_client(tokens["legal"]), drilled.event.slug
    _, plain = download(client, slug, "arrests", fmt)
    assert "red coat" not in plain and "Comisaría" not in plain
    assert not AuditEntry.objects.filter(via="export").exists()

    _, personal = download(client, slug, "arrests", fmt, personal="true")
    assert "two students, one in a red coat" in personal and "Comisaría Centro" in personal
    audited = AuditEntry.objects.filter(via="export", participant=drilled.legal)
    assert audited.count() == ArrestRecord.objects.filter(event=drilled.event).count()


def test_personal_data_asked_for_by_a_role_that_may_not_read_arrests_is_refused(drilled, tokens):
    reply, _ = download(api_client(tokens["marshal_a"]), drilled.event.slug, "arrests", "csv",
                        personal="true")  # fmt: skip
    assert reply.status_code == 403


def test_a_time_range_keeps_only_the_rows_within_it(drilled, tokens):
    middle = timezone.now() - timedelta(minutes=30)
    Incident.objects.filter(event=drilled.event, kind="crowd").update(
        created_at=middle - timedelta(minutes=20)
    )
    client = api_client(tokens["organizer"])
    _, body = download(client, drilled.event.slug, "incidents", "csv",
                       since=middle.isoformat())  # fmt: skip
    kinds = {row["kind"] for row in csv.DictReader(io.StringIO(body))}
    assert kinds == {"police", "sos"}
    _, body = download(client, drilled.event.slug, "incidents", "csv", until=middle.isoformat())
    assert {row["kind"] for row in csv.DictReader(io.StringIO(body))} == {"crowd"}


def test_exports_stream_and_say_when_the_data_is_purged(drilled, tokens):
    reply, body = download(api_client(tokens["organizer"]), drilled.event.slug, "incidents",
                           "geojson")  # fmt: skip
    event = Event.objects.get(pk=drilled.event.pk)
    purge_at = (event.ends_at + timedelta(hours=event.retention_hours)).isoformat()
    assert reply.streaming
    assert reply["Fieldops-Purge-At"] == purge_at
    assert json.loads(body)["fieldops"]["purge_at"] == purge_at
    assert "attachment" in reply["Content-Disposition"]


def test_after_the_purge_exports_hold_only_counts_per_hour_and_cell(drilled, tokens):
    browser, _ = joined(drilled, "organizer")
    event_purge(event=drilled.event)
    # The participants are gone with the rest: nobody's token or session works any more.
    assert api_client(tokens["organizer"]).get(
        f"/api/events/{drilled.event.slug}/exports/arrests").status_code == 401  # fmt: skip
    from fieldops.export_rows import export_open
    from marshals.models import Participant

    organizer = Participant(event=drilled.event, role="organizer", callsign="after")
    export = export_open(participant=organizer, dataset="arrests")
    rows = [row.properties for row in export.rows]
    assert export.purged and export.columns == ["hour", "kind", "cell_lat", "cell_lng", "count"]
    assert sum(r["count"] for r in rows if r["kind"] == "arrest") == 2
    assert sum(r["count"] for r in rows if r["kind"] == "arrest.people") == 3
    assert {r["cell_lat"] for r in rows} == {round(40.4161, 2), round(40.4150, 2)}  # coarse


def test_the_command_and_cases_pages_download_through_the_same_rules(drilled):
    slug = drilled.event.slug
    legal, _ = joined(drilled, "legal")
    reply = legal.get(f"/e/{slug}/export", {"dataset": "arrests", "format": "csv"})
    assert reply.status_code == 200 and reply["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(reply.streaming_content).decode())))
    assert len(rows) == 2
    marshal, _ = joined(drilled, "marshal", drilled.group_a.pk)
    assert marshal.get(f"/e/{slug}/export", {"dataset": "arrests"}).status_code == 403
    assert legal.get(f"/e/{slug}/export", {"dataset": "nothing"}).status_code == 404
    assert legal.get(f"/e/{slug}/export", {"dataset": "incidents",
                                           "since": "yesterday"}).status_code == 400  # fmt: skip


@pytest.mark.django_db(transaction=True)
async def test_under_asgi_a_large_export_is_sent_in_batches_as_it_is_read(cast):
    from channels.db import database_sync_to_async
    from django.test import AsyncRequestFactory

    from fieldops.export_rows import export_open
    from fieldops.exports import BATCH, export_response
    from marshals.models import CheckIn

    def many():
        CheckIn.objects.bulk_create(
            CheckIn(event=cast.event, participant=cast.marshal_a, lat=40.4 + n / 1e5, lng=-3.7)
            for n in range(BATCH * 3)
        )
        return export_open(participant=cast.organizer, dataset="checkins")

    export = await database_sync_to_async(many)()
    request = AsyncRequestFactory().get("/")  # an ASGIRequest, as daphne and uvicorn make
    reply = export_response(request, export, "csv")

    assert reply.is_async
    chunks = [chunk async for chunk in reply.streaming_content]
    assert len(chunks) >= 3  # one batch of rows at a time, never the whole export at once
    assert b"".join(chunks).decode().count("\n") == BATCH * 3 + 1
