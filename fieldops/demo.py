"""A neutral demo event in a real city (central Madrid), for trying Fieldops and for drills."""

import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from fieldops.models import Event, MarchGroup, Place, Route
from marshals.models import Role
from marshals.services import invite_create

DEMO_SLUG = "demo-march"

# Plaza de Colón, down Paseo de Recoletos and Paseo del Prado, to Atocha: [longitude, latitude].
ROUTE = [
    [-3.6903, 40.4253],
    [-3.6924, 40.4215],
    [-3.6932, 40.4193],
    [-3.6941, 40.4153],
    [-3.6930, 40.4128],
    [-3.6920, 40.4078],
]

# Names without their kind: every page shows the kind beside the name.
PLACES = [
    ("assembly", "Plaza de Colón", {"type": "Point", "coordinates": [-3.6895, 40.4256]}),
    ("medic", "Cibeles, tent", {"type": "Point", "coordinates": [-3.6915, 40.4200]}),
    ("medic", "Atocha", {"type": "Point", "coordinates": [-3.6905, 40.4085]}),
    ("legal", "Neptuno", {"type": "Point", "coordinates": [-3.6955, 40.4150]}),
    ("water", "Recoletos", {"type": "Point", "coordinates": [-3.6915, 40.4230]}),
    ("toilets", "Prado", {"type": "Point", "coordinates": [-3.6915, 40.4120]}),
    ("exit", "Puerta de Alcalá", {"type": "Point", "coordinates": [-3.6886, 40.4200]}),
    ("exit", "Calle de Alcalá (west)", {"type": "Point", "coordinates": [-3.6965, 40.4185]}),
    (
        "danger",
        "Road works, Atocha side",
        {
            "type": "Polygon",
            "coordinates": [
                [
                    [-3.6935, 40.4095],
                    [-3.6915, 40.4095],
                    [-3.6915, 40.4102],
                    [-3.6935, 40.4102],
                    [-3.6935, 40.4095],
                ]
            ],
        },
    ),
]

ROLE_INVITES = [
    (Role.ORGANIZER, None, 5),
    (Role.MARSHAL, "North block", 50),
    (Role.LEGAL, None, 20),
    (Role.MEDIC, None, 20),
    (Role.MARCHER, None, None),
]


@transaction.atomic
def demo_create() -> dict:
    """(Re)create the demo event; return its slug, invite codes and links, and the admin login."""
    Event.objects.filter(slug=DEMO_SLUG).delete()
    now = timezone.now()
    event = Event.objects.create(
        slug=DEMO_SLUG,
        name="Demo march: Colón to Atocha",
        time_zone="Europe/Madrid",
        starts_at=now - timedelta(hours=1),
        ends_at=now + timedelta(hours=6),
        retention_hours=72,
        checkin_interval_minutes=10,
    )
    groups = {
        name: MarchGroup.objects.create(event=event, name=name, color=color)
        for name, color in [("North block", "#1f6feb"), ("South block", "#8250df")]
    }
    Route.objects.create(
        event=event,
        version=1,
        geometry={"type": "LineString", "coordinates": ROUTE},
        note="Planned route",
    )
    for kind, name, geometry in PLACES:
        Place.objects.create(event=event, kind=kind, name=name, geometry=geometry)
    invites = {}
    for role, group_name, max_uses in ROLE_INVITES:
        group = groups[group_name].pk if group_name else None
        issued = invite_create(
            event=event,
            role=role,
            group=group,
            label=f"demo {role}",
            expires_in_hours=24,
            max_uses=max_uses,
        )
        invites[role] = {"code": issued.code, "url": f"{settings.PUBLIC_URL}/join/{issued.code}/"}
    password = secrets.token_urlsafe(12)
    user, _ = get_user_model().objects.get_or_create(username="organizer")
    user.is_staff = user.is_superuser = True
    user.set_password(password)
    user.save()
    return {
        "event": event.slug,
        "groups": {name: g.pk for name, g in groups.items()},
        "invites": invites,
        "admin": {
            "url": f"{settings.PUBLIC_URL}/admin/",
            "username": "organizer",
            "password": password,
        },
    }
