"""Check-ins that queue while a worker's database thread is busy are carried out together: one event
lock, one transaction, one commit, one publish. Each is still answered, ordered, checked by every
safety rule and logged as if it came alone, and one bad check-in harms none of the others."""

import asyncio
import datetime
import uuid
import zoneinfo

import orjson
import pytest
from channels.db import database_sync_to_async
from django.db import connection
from django.test.utils import CaptureQueriesContext

from fieldops import errors
from fieldops.actions import Request, actions_perform_batch
from fieldops.models import JournalEntry
from marshals.models import CheckIn
from realtime import metrics

from .conftest import connect_as
from .factories import EventFactory, ParticipantFactory
from .test_safety_geo import beside_route

ON = beside_route(0)
OFF = beside_route(400)


def checkin(participant, point=ON, *, client_id=None, **data) -> Request:
    return Request(
        participant=participant,
        verb="checkin",
        data={"lat": point.lat, "lng": point.lng, "status": "ok", **data},
        client_id=client_id or uuid.uuid4(),
    )


def batches(outcome: str) -> float:
    return metrics.BATCHES.labels(outcome)._value.get()


@pytest.fixture
def marshals(cast):
    return [cast.marshal_a, cast.marshal_b] + [
        ParticipantFactory(event=cast.event, role="marshal", callsign=f"b{i}") for i in range(4)
    ]


def test_a_batch_is_one_transaction_with_gapless_seqs_in_request_order(
    cast, marshals, published, django_capture_on_commit_callbacks
):
    together = batches("together")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        results = actions_perform_batch([checkin(m) for m in marshals])
    assert len(callbacks) == 1, "one publish for the batch"
    seqs = [r.seq for r in results]
    assert seqs == list(range(seqs[0], seqs[0] + len(marshals)))
    assert batches("together") == together + 1
    assert [e["seq"] for e in published] == seqs, "published once each, in order, on commit"
    assert CheckIn.objects.filter(event=cast.event).count() == len(marshals)


def test_a_batched_entry_is_stored_as_a_lone_one_is(cast, marshals):
    """A batch writes its entries from their values, with no model instance: what it stores reads
    back as what an entry written alone stores."""
    alone = actions_perform_batch([checkin(marshals[0])])[0]
    batched = actions_perform_batch([checkin(m) for m in marshals[1:3]])[0]
    rows = {e.seq: e for e in JournalEntry.objects.filter(seq__in=[alone.seq, batched.seq])}
    for written, actor in ((alone, marshals[0]), (batched, marshals[1])):
        row = rows[written.seq]
        assert row.frame == written.frame, "sealed at rest, opened as it was sent"
        assert (row.kind, row.audience_tags, row.actor_id) == (
            "checkin",
            written.audience_tags,
            actor.pk,
        )
        assert row.at == written.at
    with connection.cursor() as cursor:
        cursor.execute("SELECT frame FROM fieldops_journalentry WHERE seq = %s", [batched.seq])
        assert cursor.fetchone()[0].startswith("v2:"), "a batched frame is sealed like any other"


def test_a_row_written_from_its_values_refuses_an_unsealed_personal_value(cast):
    from fieldops.services.rows import row_values

    with pytest.raises(ValueError, match="frame"):
        row_values(JournalEntry, {"event_id": cast.event.pk, "frame": "in clear"})


@pytest.mark.parametrize(
    "when",
    [
        datetime.datetime(2026, 5, 1, 14, 3, 7, 250, tzinfo=datetime.UTC),
        datetime.datetime(2026, 5, 1, 14, 3, 7, tzinfo=datetime.UTC),  # no microseconds
        datetime.datetime(2026, 5, 1, 16, 3, 7, 9, tzinfo=zoneinfo.ZoneInfo("Europe/Madrid")),
        None,
    ],
)
def test_a_time_is_prepared_for_the_database_as_django_prepares_it(db, when):
    from fieldops.services.rows import _statement

    _, fields, preps = _statement(JournalEntry, connection)
    at = next(i for i, f in enumerate(fields) if f.name == "at")
    field = fields[at]
    assert preps[at](when, connection) == field.get_db_prep_save(when, connection)


def test_a_time_is_prepared_as_django_prepares_it_on_a_connection_in_another_zone(db, monkeypatch):
    from django.db import connections

    from fieldops.services.rows import _statement

    wrapper = connections["default"]
    monkeypatch.setitem(wrapper.__dict__, "timezone", zoneinfo.ZoneInfo("Europe/Madrid"))
    _, fields, preps = _statement(JournalEntry, wrapper)
    at = next(i for i, f in enumerate(fields) if f.name == "at")
    when = datetime.datetime(2026, 5, 1, 14, 3, 7, 250, tzinfo=datetime.UTC)
    written = preps[at](when, wrapper)
    assert written == fields[at].get_db_prep_save(when, wrapper) == "2026-05-01 16:03:07.000250"


def test_a_batch_seals_with_the_key_it_read_once_and_only_inside_it(cast, marshals):
    from django.db import transaction

    from fieldops import crypto

    other = EventFactory()
    with transaction.atomic():
        with crypto.data_key_held(event_id=cast.event.pk):
            held = crypto.event_data_key(event_id=cast.event.pk)
            with CaptureQueriesContext(connection) as queries:
                assert crypto.event_data_key(event_id=cast.event.pk) is held
            assert not queries.captured_queries, "the held key is not asked for again"
            assert crypto.event_data_key(event_id=other.pk) is not held, "another event's key"
        crypto.keys_forget()
        assert crypto.event_data_key(event_id=cast.event.pk) is not held, "read anew after it"


def test_a_batch_writes_its_check_in_rows_in_one_statement_after_every_key_ever_used(
    cast, marshals
):
    actions_perform_batch([checkin(marshals[0])])
    gone = CheckIn.objects.get().pk
    CheckIn.objects.all().delete()  # the highest key is gone, and must not be used again

    with CaptureQueriesContext(connection) as queries:
        results = actions_perform_batch([checkin(m) for m in marshals])

    inserts = [q["sql"] for q in queries if 'INSERT INTO "marshals_checkin"' in q["sql"]]
    assert len(inserts) == 1, inserts
    rows = CheckIn.objects.order_by("pk")
    assert rows.first().pk > gone
    for result in results:
        written = orjson.loads(result.frame)["data"]
        assert rows.get(pk=written["checkin"]).participant.callsign == written["callsign"]


def test_a_batch_makes_its_rows_and_asks_for_resends_before_it_takes_the_events_lock(
    cast, marshals, monkeypatch
):
    """The event's lock holds every other writer of the event (another worker's batch, an SOS):
    what needs no lock is done before it is taken."""
    from contextlib import contextmanager

    from fieldops import actions
    from fieldops.services import checkins, journal

    order: list[str] = []
    real_lock, real_ready = journal.event_lock, checkins.row_ready
    real_done = actions.journal_actions_done

    @contextmanager
    def lock(event_id):
        order.append("lock")
        with real_lock(event_id):
            yield

    def ready(instance):
        order.append("row")
        return real_ready(instance)

    def done(**kwargs):
        order.append("resends asked")
        return real_done(**kwargs)

    monkeypatch.setattr(journal, "event_lock", lock)
    monkeypatch.setattr(checkins, "row_ready", ready)
    monkeypatch.setattr(actions, "journal_actions_done", done)
    results = actions_perform_batch([checkin(m) for m in marshals])

    assert order == ["resends asked"] + ["row"] * len(marshals) + ["lock"]
    assert [c.participant_id for c in CheckIn.objects.order_by("pk")] == [m.pk for m in marshals]
    assert [r.seq for r in results] == sorted(r.seq for r in results)


def test_a_batch_measures_its_check_ins_against_the_route_before_it_takes_the_events_lock(
    cast, marshals, monkeypatch
):
    from contextlib import contextmanager

    from fieldops.services import journal
    from fieldops.services.safety import eventmap

    actions_perform_batch([checkin(m) for m in marshals])  # this worker's copy of the map
    order: list[str] = []
    real_lock, real_measure = journal.event_lock, eventmap.line_within_m

    @contextmanager
    def lock(event_id):
        order.append("lock")
        with real_lock(event_id):
            yield

    def measure(*args):
        order.append("measure")
        return real_measure(*args)

    monkeypatch.setattr(journal, "event_lock", lock)
    monkeypatch.setattr(eventmap, "line_within_m", measure)
    actions_perform_batch([checkin(m, beside_route(10 + i)) for i, m in enumerate(marshals)])

    assert order == ["measure"] * len(marshals) + ["lock"]


def test_a_route_changed_between_the_measure_and_the_lock_is_the_one_a_check_in_meets(
    cast, marshals, monkeypatch
):
    """The measure made before the lock was on this worker's copy of the map: if an organizer
    moved the route meanwhile, the check-in is measured again against the new one."""
    from contextlib import contextmanager

    from fieldops.services import journal
    from fieldops.services.routes import route_publish

    from .test_safety_route import street_through

    actions_perform_batch([checkin(m) for m in marshals])  # this worker's copy of the map
    real_lock = journal.event_lock
    moved: list[bool] = []

    @contextmanager
    def lock(event_id):
        if not moved:  # the organizer's change lands just before the batch takes the lock
            moved.append(True)
            route_publish(participant=cast.organizer, geometry=street_through(beside_route(3000)))
        with real_lock(event_id):
            yield

    monkeypatch.setattr(journal, "event_lock", lock)
    start = cast.event.__class__.objects.get(pk=cast.event.pk).last_seq
    actions_perform_batch([checkin(m) for m in marshals])

    off = JournalEntry.objects.filter(event=cast.event, seq__gt=start, kind="marshal.off_route")
    assert sorted(e.actor_id for e in off) == sorted(m.pk for m in marshals)


def test_a_check_in_beyond_the_keys_taken_ahead_still_goes_with_its_batch(
    cast, marshals, monkeypatch
):
    from fieldops.services import journal

    taken = journal.ids_ahead
    monkeypatch.setattr(journal, "ids_ahead", lambda model, count: taken(model, count)[:1])
    together = batches("together")

    results = actions_perform_batch([checkin(m) for m in marshals[:3]])

    assert batches("together") == together + 1, "no key taken twice, so no fall back"
    written = [orjson.loads(r.frame)["data"]["checkin"] for r in results]
    assert sorted(written) == list(CheckIn.objects.order_by("pk").values_list("pk", flat=True))


def test_a_batch_travels_to_the_other_workers_as_one_message(
    cast, marshals, monkeypatch, django_capture_on_commit_callbacks
):
    from realtime import fanout

    sent = []
    monkeypatch.setattr(fanout, "_send", sent.append)
    with django_capture_on_commit_callbacks(execute=True):
        results = actions_perform_batch([checkin(m) for m in marshals[:3]])
    (messages,) = sent
    (message,) = messages
    assert message["type"] == "journal.entries" and message["event"] == cast.event.pk
    assert [seq for seq, _, _ in message["entries"]] == [r.seq for r in results]
    assert [frame for _, _, frame in message["entries"]] == [r.frame for r in results]


def test_a_refused_checkin_is_answered_alone_and_the_rest_go_together(cast, marshals):
    together = batches("together")
    requests = [checkin(m) for m in marshals]
    requests[2] = checkin(marshals[2], lat=91)  # not a latitude
    requests[4] = Request(participant=cast.legal, verb="checkin", data={}, client_id=None)
    results = actions_perform_batch(requests)
    assert isinstance(results[2], errors.ActionError) and results[2].code == errors.INVALID
    assert any(f["field"] == "data.lat" for f in results[2].fields)
    assert isinstance(results[4], errors.ActionError) and results[4].code == errors.FORBIDDEN
    assert all(r.seq for i, r in enumerate(results) if i not in (2, 4))
    assert batches("together") == together + 1


def test_one_failing_while_writing_rolls_back_the_batch_and_each_goes_alone(
    cast, marshals, monkeypatch, caplog
):
    from fieldops.services import checkins

    real = checkins.checkin_create
    doomed = marshals[3]

    def failing(*, participant, **kwargs):
        if participant.pk == doomed.pk:
            raise RuntimeError("disk on fire")
        return real(participant=participant, **kwargs)

    monkeypatch.setattr("fieldops.actions.ACTIONS", _with_service(failing))
    alone = batches("alone")
    results = actions_perform_batch([checkin(m) for m in marshals])
    assert isinstance(results[3], RuntimeError)
    ok = [r for i, r in enumerate(results) if i != 3]
    assert all(r.seq for r in ok)
    assert batches("alone") == alone + 1
    # Nothing written twice, nothing from the failed one, and the journal has no gap.
    assert CheckIn.objects.filter(event=cast.event).count() == len(marshals) - 1
    seqs = sorted(JournalEntry.objects.filter(event=cast.event).values_list("seq", flat=True))
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
    assert "a batch of 6 actions failed (RuntimeError)" in caplog.text
    assert "disk on fire" not in caplog.text


def _with_service(service):
    from dataclasses import replace

    from fieldops.actions import ACTIONS

    return {**ACTIONS, "checkin": replace(ACTIONS["checkin"], service=service)}


def test_a_resend_in_the_same_batch_is_answered_with_the_first_ones_entry(cast, marshals):
    frame_id = uuid.uuid4()
    first, again, other = actions_perform_batch(
        [
            checkin(marshals[0], client_id=frame_id),
            checkin(marshals[0], client_id=frame_id),
            checkin(marshals[1]),
        ]
    )
    assert again.seq == first.seq
    assert other.seq == first.seq + 1
    assert CheckIn.objects.filter(participant=marshals[0]).count() == 1


def test_a_resend_of_an_earlier_batch_is_answered_with_its_entry(cast, marshals):
    frame_id = uuid.uuid4()
    (first,) = actions_perform_batch([checkin(marshals[0], client_id=frame_id)])
    again, _ = actions_perform_batch(
        [checkin(marshals[0], client_id=frame_id), checkin(marshals[1])]
    )
    assert again.seq == first.seq
    assert CheckIn.objects.filter(participant=marshals[0]).count() == 1


def test_a_resend_written_between_the_batchs_question_and_its_lock_is_answered_as_a_resend(
    cast, marshals, monkeypatch
):
    """The batch asks for resends before it takes the lock: the first copy of a frame may be
    written meanwhile (by the other worker). The unique frame id stops the second copy; the batch
    rolls back, and each check-in goes alone, the resend answered with the first one's entry."""
    from contextlib import contextmanager

    from fieldops.services import journal

    frame_id = uuid.uuid4()
    real_lock = journal.event_lock
    first: list = []

    @contextmanager
    def lock(event_id):
        if not first:  # the other worker writes the first copy just before this batch's lock
            first.append(None)  # (its own write takes the lock too)
            first[0] = actions_perform_batch([checkin(marshals[0], client_id=frame_id)])[0]
        with real_lock(event_id):
            yield

    monkeypatch.setattr(journal, "event_lock", lock)
    alone = batches("alone")
    again, other = actions_perform_batch(
        [checkin(marshals[0], client_id=frame_id), checkin(marshals[1])]
    )

    assert batches("alone") == alone + 1
    assert again.seq == first[0].seq and other.seq > first[0].seq
    assert CheckIn.objects.filter(participant=marshals[0]).count() == 1
    assert CheckIn.objects.filter(participant=marshals[1]).count() == 1


def test_two_checkins_of_one_marshal_in_a_batch_each_meet_the_rules_as_the_other_left_them(
    cast, marshals
):
    marshal = marshals[0]
    results = actions_perform_batch(
        [checkin(marshal, OFF), checkin(marshals[1]), checkin(marshal, ON), checkin(marshal, OFF)]
    )
    kinds = list(
        JournalEntry.objects.filter(event=cast.event, seq__gt=results[0].seq - 1)
        .order_by("seq")
        .values_list("kind", flat=True)
    )
    safety = [k for k in kinds if k.startswith("marshal.")]
    assert safety == ["marshal.off_route", "marshal.on_route", "marshal.off_route"]


def test_the_rules_state_read_ahead_for_a_batch_is_what_each_would_have_read(cast, marshals):
    """A marshal already off route when the batch starts is told nothing new until back."""
    actions_perform_batch([checkin(marshals[0], OFF)])
    results = actions_perform_batch([checkin(marshals[0], OFF), checkin(marshals[1], OFF)])
    kinds = list(
        JournalEntry.objects.filter(event=cast.event, seq__gte=results[0].seq)
        .order_by("seq")
        .values_list("kind", flat=True)
    )
    assert kinds.count("marshal.off_route") == 1, "only marshal 1 newly left the route"


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_sockets_checking_in_at_once_are_acked_each_and_share_transactions(cast, marshals):
    clients = [(await connect_as(m))[0] for m in marshals]
    together = batches("together")
    try:
        frame = {"type": "checkin", "data": {"lat": ON.lat, "lng": ON.lng, "status": "ok"}}
        ids = []
        for _ in range(3):
            for client in clients:
                ids.append(str(uuid.uuid4()))
                await client.send_json_to({**frame, "id": ids[-1]})
        acked = {}
        for client in clients:
            while len([i for i in acked.values() if i is client]) < 3:
                reply = await client.receive_json_from(timeout=5)
                if reply["type"] == "ack":
                    acked[reply["id"]] = client
        assert set(acked) == set(ids)
        assert batches("together") > together, "no two check-ins ever shared a transaction"
        count = await database_sync_to_async(CheckIn.objects.filter(event=cast.event).count)()
        assert count == len(ids)
    finally:
        await asyncio.gather(*(c.disconnect() for c in clients))


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_a_revoked_socket_in_a_batch_is_closed_and_the_others_are_acked(cast, marshals):
    from django.utils import timezone

    from marshals.models import Participant

    from .conftest import expect_close

    clients = [(await connect_as(m))[0] for m in marshals[:3]]
    # Revoked in the database only, as when the revocation message was lost: the batch's own
    # credential check is what finds it.
    await database_sync_to_async(Participant.objects.filter(pk=marshals[1].pk).update)(
        revoked_at=timezone.now()
    )
    frame = {"type": "checkin", "data": {"lat": ON.lat, "lng": ON.lng, "status": "ok"}}
    for client in clients:
        await client.send_json_to({**frame, "id": str(uuid.uuid4())})
    await expect_close(clients[1], 4403)
    for client in (clients[0], clients[2]):
        while (await client.receive_json_from(timeout=5))["type"] != "ack":
            pass
    count = await database_sync_to_async(CheckIn.objects.filter(event=cast.event).count)()
    assert count == 2, "the revoked marshal's check-in was not written"
    await asyncio.gather(*(c.disconnect() for c in clients))


@pytest.mark.django_db(transaction=True)  # each trip closes stale connections, as Channels does
@pytest.mark.asyncio
async def test_check_ins_arriving_within_the_gather_time_share_one_trip_and_none_waits_longer():
    from realtime.gather import Gather

    trips = []

    def run(items):
        trips.append(list(items))
        return [RuntimeError("refused") if i == 3 else i * 10 for i in items]

    gather = Gather(run, linger=0.2)
    loop = asyncio.get_running_loop()
    began = loop.time()

    async def arriving(item, after):
        await asyncio.sleep(after)
        return await gather.submit(item)

    results = await asyncio.gather(
        arriving(1, 0), arriving(2, 0.05), arriving(3, 0.1), return_exceptions=True
    )
    waited = loop.time() - began
    assert trips == [[1, 2, 3]]
    assert results[:2] == [10, 20] and isinstance(results[2], RuntimeError)
    assert 0.2 <= waited < 1.0, "the first waited the gather time, and not much more"
    assert await gather.submit(4) == 40 and trips[-1] == [4], "alone when no one else comes"


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_check_ins_that_arrive_during_a_trip_wait_for_company_before_the_next():
    """The gather time counts for every trip, not only when the thread was idle: under steady
    load that is what makes batches of more than the few that queued behind one trip."""
    import time as clock

    from realtime.gather import Gather

    trips = []

    def run(items):
        trips.append(list(items))
        clock.sleep(0.3)
        return list(items)

    gather = Gather(run, linger=0.6)

    async def arriving(item, after):
        await asyncio.sleep(after)
        return await gather.submit(item)

    # 1 goes at 0.6 s, its trip ends at 0.9; 2 arrives during it, 3 after it: they go together.
    await asyncio.gather(arriving(1, 0), arriving(2, 0.75), arriving(3, 1.05))
    assert trips == [[1], [2, 3]]
