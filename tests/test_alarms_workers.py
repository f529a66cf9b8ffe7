"""Safety round two on two real workers (daphne and uvicorn) sharing PostgreSQL and Redis, each
running its own watch: an SOS with nobody near reaches the two nearest marshals (distances checked
against geopy's geodesic), its alarm escalates once per step though two watches sweep, a claim made
on one worker is seen on the other and stops the steps, a zone drawn over a marshal warns them at
once, and an overdue entry says whether the silent phone is still connected; a route published
through marshals puts them on route at once, and an organizer ending the event stops both watches."""

import asyncio
import uuid

import pytest
from geopy.distance import geodesic

from fieldops.kit.client import Client
from fieldops.kit.launcher import launch, manage

from .test_multiworker import drive
from .test_safety_geo import LatLng, offset

pytestmark = pytest.mark.multiworker

A, B = 0, 1
TIMEOUT = 40.0  # liveness only: two shared cores
# Far from the demo route and its places, so nothing but this test's people is near.
SOS_AT = LatLng(40.5200, -3.8000)
FAST = {
    "FIELDOPS_WATCH_EMBEDDED": "1",
    "FIELDOPS_WATCH_INTERVAL_SECONDS": "1",
    "FIELDOPS_PRESENCE_FLUSH_SECONDS": "1",
    "FIELDOPS_OVERDUE_GRACE_SECONDS": "3",
}


def quick_event(env: dict, seed: dict) -> None:
    """Every sweep escalates an unclaimed alarm one step; silence is overdue after the grace."""
    manage(
        env, "shell", "-c",
        "from fieldops.models import Event; "
        f"Event.objects.filter(slug={seed['event']!r})"
        ".update(alarm_escalate_minutes=0, checkin_interval_minutes=0)",
    )  # fmt: skip


@pytest.fixture(scope="module")
def stack():
    with launch(
        servers=("daphne", "uvicorn"), postgres=True, env=FAST, prepare=quick_event
    ) as running:
        yield running


async def connect(stack, worker: int, who: dict) -> Client:
    return await Client.open(stack.ws_url(worker), token=who["token"])


async def scenario(stack) -> None:
    tag = uuid.uuid4().hex[:4]
    org = stack.join("organizer", f"org-{tag}")
    sender, near, second, third = (
        stack.join("marshal", f"{n}-{tag}") for n in ("sender", "near", "second", "third")
    )
    medic = stack.join("medic", f"medic-{tag}")
    organizer = await connect(stack, A, org)
    phones = {
        "sender": await connect(stack, A, sender),
        "near": await connect(stack, B, near),
        "second": await connect(stack, B, second),
        "third": await connect(stack, B, third),
        "medic": await connect(stack, B, medic),
    }
    try:
        spots = {
            "near": offset(SOS_AT, bearing=0, meters=2000),
            "second": offset(SOS_AT, bearing=180, meters=3000),
            "third": offset(SOS_AT, bearing=90, meters=6000),
            "medic": offset(SOS_AT, bearing=270, meters=1000),
        }
        for name, spot in spots.items():
            await phones[name].act("checkin", {"lat": spot.lat, "lng": spot.lng})

        # 1. Nobody within 500 m: the two nearest marshals are told, with distance and bearing.
        ack = await phones["sender"].act("sos", {"lat": SOS_AT.lat, "lng": SOS_AT.lng})
        for name, metres in (("near", 2000), ("second", 3000)):
            told = await phones[name].wait_for(lambda e: e["type"] == "sos.nearby", timeout=TIMEOUT)
            d = told["data"]
            here = spots[name]
            assert d["reason"] == "nearest" and d["within_radius"] is False
            truth = geodesic((here.lat, here.lng), (SOS_AT.lat, SOS_AT.lng)).meters
            # Two assertions: a chained `x == approx(a) == approx(b)` compares the approxes.
            assert d["distance_m"] == pytest.approx(truth, abs=0.1)
            assert d["distance_m"] == pytest.approx(metres, abs=0.5)
        opened = await organizer.wait_for(
            lambda e: e["type"] == "alarm.opened" and e["data"]["subject"] == "sos", timeout=TIMEOUT
        )
        sos_alarm = opened["data"]["alarm"]
        assert opened["seq"] > ack["seq"]

        # 2. Unclaimed: three steps, each once, though both workers' watches sweep every second.
        await organizer.wait_for(
            lambda e: e["type"] == "alarm.escalated" and e["data"]["alarm"] == sos_alarm
            and e["data"]["step"] == 3,
            timeout=TIMEOUT,
        )  # fmt: skip
        await asyncio.sleep(3)  # room for a duplicate, were there one
        steps = [
            e["data"]["step"] for e in organizer.entries
            if e["type"] == "alarm.escalated" and e["data"]["alarm"] == sos_alarm
        ]  # fmt: skip
        assert steps == [1, 2, 3]
        # The third step reaches every marshal: the one 6 km away too, on the other worker.
        await phones["third"].wait_for(
            lambda e: e["type"] == "alarm.escalated" and e["data"]["alarm"] == sos_alarm,
            timeout=TIMEOUT,
        )

        # 3. A zone drawn over a marshal warns them at once; a claim on worker B is seen on A.
        ring = [offset(spots["near"], bearing=b, meters=100) for b in (45, 135, 225, 315)]
        coords = [[p.lng, p.lat] for p in ring]
        await organizer.act(
            "zone.activate",
            {
                "name": f"line {tag}",
                "geometry": {"type": "Polygon", "coordinates": [coords + coords[:1]]},
            },
        )
        warned = await phones["near"].wait_for(
            lambda e: e["type"] == "marshal.in_zone", timeout=TIMEOUT
        )
        assert warned["data"]["participant"] == near["participant"]
        zone_alarm = await phones["second"].wait_for(
            lambda e: e["type"] == "alarm.opened" and e["data"]["subject"] == "in_zone",
            timeout=TIMEOUT,
        )  # the group's marshals are told
        claim = await phones["second"].act("alarm.claim", {"alarm": zone_alarm["data"]["alarm"]})
        seen = await organizer.wait_for(lambda e: e["seq"] == claim["seq"], timeout=TIMEOUT)
        assert seen["type"] == "alarm.claimed" and seen["data"]["claimed_by"] == f"second-{tag}"
        await asyncio.sleep(3)
        after = [
            e for e in organizer.entries
            if e["type"] == "alarm.escalated" and e["data"]["alarm"] == zone_alarm["data"]["alarm"]
            and e["seq"] > claim["seq"]
        ]  # fmt: skip
        assert after == []

        # 4. Overdue: the medic's phone is connected (worker B) but silent; a marshal who joined and
        # never opened a socket is gone.
        gone = stack.join("marshal", f"gone-{tag}")
        overdue = {}
        for who in (medic, gone):
            found = await organizer.wait_for(
                lambda e, w=who: e["type"] == "marshal.overdue"
                and e["data"]["participant"] == w["participant"],
                timeout=TIMEOUT,
            )  # fmt: skip
            overdue[who["participant"]] = found["data"]["phone"]
        assert overdue[medic["participant"]]["connected"] is True
        assert overdue[gone["participant"]] == {"connected": False, "last_heard": None}

        # 5. A route published through two marshals' last positions puts them back on route at
        # once, without a check-in; the one 6 km away is told nothing new.
        line = [spots["near"], SOS_AT, spots["second"]]
        published = await organizer.act(
            "route.publish",
            {"geometry": {"type": "LineString", "coordinates": [[p.lng, p.lat] for p in line]}},
        )
        for name in ("near", "second"):
            back = await phones[name].wait_for(
                lambda e: e["type"] == "marshal.on_route" and e["seq"] > published["seq"],
                timeout=TIMEOUT,
            )
            assert back["data"]["distance_m"] < 1
        # 6. The organizer ends the event: everyone is told, on both workers, and both watches stop
        # (with a zero check-in interval they would otherwise raise an overdue every second).
        ended = await organizer.act("event.end", {})
        for phone in phones.values():
            await phone.wait_for(lambda e: e["seq"] == ended["seq"], timeout=TIMEOUT)
        await asyncio.sleep(4)
        late = [
            e["type"] for e in organizer.entries
            if e["seq"] > ended["seq"] and e["type"] in ("marshal.overdue", "alarm.escalated")
        ]  # fmt: skip
        assert late == []
        assert not [e for e in phones["third"].entries if e["type"] == "marshal.on_route"]
    finally:
        await organizer.close()
        for phone in phones.values():
            await phone.close()


def test_safety_round_two_holds_on_two_workers_with_two_watches(stack):
    drive(scenario(stack))
    logs = "".join(w.logs() for w in stack.workers)
    assert "Traceback" not in logs, logs[-3000:]
