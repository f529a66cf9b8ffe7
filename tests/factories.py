"""factory_boy factories for the field model."""

from datetime import timedelta

import factory
from django.utils import timezone

from fieldops.demo import ROUTE as DEMO_ROUTE
from fieldops.models import Event, MarchGroup, Place, Route
from marshals.models import Participant
from marshals.tokens import digest, new_token

# The demo's real route through central Madrid, [longitude, latitude].
MADRID_ROUTE = DEMO_ROUTE


class EventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Event

    slug = factory.Sequence(lambda n: f"event-{n}")
    name = factory.Sequence(lambda n: f"Test march {n}")
    time_zone = "Europe/Madrid"
    starts_at = factory.LazyFunction(lambda: timezone.now() - timedelta(hours=1))
    ends_at = factory.LazyFunction(lambda: timezone.now() + timedelta(hours=5))


class AtAnEventFactory(factory.django.DjangoModelFactory):
    """Base of the factories for rows that belong to an event: a new event unless one is given."""

    class Meta:
        abstract = True

    event = factory.SubFactory(EventFactory)


class MarchGroupFactory(AtAnEventFactory):
    class Meta:
        model = MarchGroup

    name = factory.Sequence(lambda n: f"Block {n}")


class RouteFactory(AtAnEventFactory):
    class Meta:
        model = Route

    version = 1
    geometry = factory.LazyFunction(lambda: {"type": "LineString", "coordinates": MADRID_ROUTE})


class PlaceFactory(AtAnEventFactory):
    class Meta:
        model = Place

    kind = "medic"
    name = factory.Sequence(lambda n: f"Place {n}")
    geometry = factory.LazyFunction(lambda: {"type": "Point", "coordinates": [-3.6915, 40.42]})


class ParticipantFactory(AtAnEventFactory):
    class Meta:
        model = Participant

    role = "marshal"
    callsign = factory.Sequence(lambda n: f"call-{n}")


def issue_token(participant) -> str:
    """Create a device token for a participant and return the raw secret."""
    raw = new_token()
    participant.tokens.create(token_hash=digest(raw), label="test")
    return raw
