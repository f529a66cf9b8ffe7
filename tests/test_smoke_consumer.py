import uuid

import pytest

from .conftest import connect_as


@pytest.mark.django_db(transaction=True)
async def test_marshal_checkin_is_acked_and_reaches_organizer(cast):
    marshal, _ = await connect_as(cast.marshal_a)
    organizer, _ = await connect_as(cast.organizer)
    frame_id = str(uuid.uuid4())
    await marshal.send_json_to(
        {"type": "checkin", "id": frame_id, "data": {"lat": 40.42, "lng": -3.69}}
    )
    ack = await marshal.receive_json_from()
    assert ack == {"type": "ack", "id": frame_id, "seq": ack["seq"]}
    entry = await organizer.receive_json_from()
    assert entry["type"] == "checkin" and entry["seq"] == ack["seq"]
    await marshal.disconnect()
    await organizer.disconnect()
