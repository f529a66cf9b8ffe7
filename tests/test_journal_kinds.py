"""The journal's vocabulary: every entry is of a registered kind, its data fits the kind's model,
its audience is one the kind may reach, and docs/protocol.md's table says what the registry says."""

import uuid
from datetime import timedelta
from pathlib import Path

import orjson
import pydantic
import pytest
from django.utils import timezone

from fieldops import audiences
from fieldops.actions import ACTIONS, REST_PATHS, action_perform
from fieldops.api import api
from fieldops.management.commands.journal_kinds import KIND_TABLE_END, KIND_TABLE_START, kind_table
from fieldops.models import Event, Incident, JournalEntry, Route
from fieldops.services import kinds
from fieldops.services.alerts import alert_send
from fieldops.services.incidents import incident_report, sos_raise
from fieldops.services.journal import journal_writer
from fieldops.services.routes import route_publish
from fieldops.services.safety.zones import zone_activate, zone_deactivate

from .factories import PlaceFactory

PROTOCOL = Path(__file__).resolve().parent.parent / "docs" / "protocol.md"
SQUARE = {
    "type": "Polygon",
    "coordinates": [[[-3.694, 40.415], [-3.693, 40.415], [-3.693, 40.416], [-3.694, 40.415]]],
}


def last_seq(event) -> int:
    return Event.objects.get(pk=event.pk).last_seq


def test_append_refuses_a_kind_that_is_not_registered_and_takes_no_seq(cast):
    with pytest.raises(LookupError), journal_writer(event_id=cast.event.pk) as journal:
        journal.append(kind="incident.exploded", audience=[audiences.ORGANIZERS], data={})

    assert last_seq(cast.event) == 0


INCIDENT = {
    "incident": 1,
    "kind": "crowd",
    "severity": "low",
    "status": "reported",
    "lat": 40.4,
    "lng": -3.69,
    "description": "",
    "reporter": None,
    "group": None,
}


@pytest.mark.parametrize(
    "data",
    [
        INCIDENT | {"lat": "40.4"},
        INCIDENT | {"surprise": 1},
        {key: value for key, value in INCIDENT.items() if key != "description"},
    ],
    ids=["a string for a number", "a key the model lacks", "a missing key"],
)
def test_append_refuses_data_that_does_not_fit_its_kind(cast, data):
    with pytest.raises(pydantic.ValidationError), journal_writer(event_id=cast.event.pk) as journal:
        journal.append(kind=kinds.INCIDENT_REPORTED, audience=[audiences.MARSHALS], data=data)

    assert last_seq(cast.event) == 0


def test_append_refuses_an_arrest_addressed_to_marshals_or_marchers(cast):
    for tag in (audiences.MARSHALS, audiences.PUBLIC, audiences.march_group_tag(cast.group_a.pk)):
        with pytest.raises(ValueError, match="may not reach"):
            with journal_writer(event_id=cast.event.pk) as journal:
                journal.append(kind=kinds.ARREST_LOGGED, audience=[tag], data={})

    assert last_seq(cast.event) == 0


def test_append_refuses_the_model_of_another_kind(cast):
    data = kinds.Was(role="marshal", group=None)
    with pytest.raises(TypeError), journal_writer(event_id=cast.event.pk) as journal:
        journal.append(kind=kinds.ROUTE_ACKED, audience=[], data=data)


def test_sos_raised_reaches_organizers_medics_and_the_sender_never_all_marshals(cast):
    entry = sos_raise(participant=cast.marshal_a, lat=40.4193, lng=-3.6932)

    assert entry.kind == kinds.SOS_RAISED
    assert set(entry.audience_tags) == {
        audiences.ORGANIZERS,
        audiences.MEDICS,
        audiences.participant_tag(cast.marshal_a.pk),
    }
    assert not kinds.KINDS[kinds.SOS_RAISED].allows(audiences.MARSHALS)


def test_zone_deactivated_carries_the_level_and_text_the_safety_rules_promise(cast):
    zone = PlaceFactory(
        event=cast.event, kind="danger", name="Kettle", geometry=SQUARE, active=False
    )
    on = zone_activate(participant=cast.organizer, place=zone.pk)
    off = zone_deactivate(participant=cast.organizer, place=zone.pk)

    assert (on.data.level, on.data.text) == ("danger", "Avoid: Kettle")
    data = orjson.loads(off.frame)["data"]
    assert (data["level"], data["text"]) == ("info", "No longer a danger zone: Kettle")
    assert data["active"] is False


def test_services_return_what_they_created_without_parsing_the_entry(cast):
    reported = incident_report(
        participant=cast.marshal_a, lat=40.4193, lng=-3.6932, kind="crowd", severity="high"
    )
    published = route_publish(
        participant=cast.organizer,
        geometry={"type": "LineString", "coordinates": [[-3.69, 40.42], [-3.692, 40.41]]},
    )

    assert Incident.objects.get(pk=reported.data.incident).kind == "crowd"
    assert Route.objects.get(pk=published.data.route).version == published.data.version
    assert JournalEntry.objects.get(pk=published.id).seq == published.seq


def test_a_resend_answers_with_the_first_entry_as_it_was_written(cast):
    frame_id = uuid.uuid4()
    data = {"lat": 40.4193, "lng": -3.6932, "kind": "crowd", "severity": "low"}
    first = action_perform(
        participant=cast.marshal_a, verb="incident.report", data=data, client_id=frame_id
    )
    again = action_perform(
        participant=cast.marshal_a, verb="incident.report", data=data, client_id=frame_id
    )

    assert again == first
    assert last_seq(cast.event) == first.seq


def test_times_are_written_as_iso_8601_text_with_their_offset(cast):
    entry = alert_send(participant=cast.organizer, text="Keep left", expires_in_minutes=5)

    expires_at = orjson.loads(entry.frame)["data"]["expires_at"]
    assert expires_at == entry.data.expires_at.isoformat()
    assert expires_at.endswith("+00:00")
    assert entry.data.expires_at - timezone.now() <= timedelta(minutes=5)


def test_every_kind_has_a_payload_model_and_a_description():
    for name, kind in kinds.KINDS.items():
        assert kind.name == name
        assert issubclass(kind.payload, kinds.Payload) and kind.payload.model_fields
        assert kind.receivers


def test_the_protocol_kind_table_is_written_from_the_registry():
    text = PROTOCOL.read_text()
    start = text.index(KIND_TABLE_START) + len(KIND_TABLE_START)
    end = text.index(KIND_TABLE_END)

    assert text[start:end].strip() == kind_table().strip(), (
        "docs/protocol.md disagrees with fieldops/services/kinds.py: "
        "run `python manage.py journal_kinds --write`"
    )


def test_every_action_is_posted_at_its_one_rest_path_with_its_own_schema():
    schema = api.get_openapi_schema(path_prefix="/api/")

    for verb, action in ACTIONS.items():
        post = schema["paths"][f"/api/events/{{slug}}/{REST_PATHS[verb]}"]["post"]
        body = post["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        reply = post["responses"][200]["content"]["application/json"]["schema"]["$ref"]
        assert body.rsplit("/", 1)[1] == action.schema.__name__
        assert reply.rsplit("/", 1)[1] == "EntryOut"
    assert set(REST_PATHS) == set(ACTIONS)


def test_a_resend_of_an_entry_an_older_version_wrote_is_still_answered_with_its_seq(cast):
    frame_id = uuid.uuid4()
    data = {"lat": 40.4193, "lng": -3.6932, "kind": "crowd", "severity": "high"}
    first = action_perform(
        participant=cast.marshal_a, verb="incident.report", data=data, client_id=frame_id
    )
    older = orjson.loads(first.frame)
    del older["data"]["group"]
    stored = JournalEntry.objects.get(pk=first.id)
    stored.frame = orjson.dumps(older).decode()
    stored.save(update_fields=["frame"])

    again = action_perform(
        participant=cast.marshal_a, verb="incident.report", data=data, client_id=frame_id
    )

    assert (again.seq, again.data) == (first.seq, None)
    assert orjson.loads(again.frame) == older


def test_the_protocol_lists_each_action_at_its_rest_path():
    text = PROTOCOL.read_text()

    for verb, path in REST_PATHS.items():
        assert f"| `{verb}` | `POST /api/events/<slug>/{path}` |" in text
