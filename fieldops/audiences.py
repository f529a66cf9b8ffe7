"""Audience tags: the one place they are built. (Channel-layer group names: realtime/streams.py.)

An audience tag says who may see a journal entry; which tags each role subscribes to is decided in
fieldops/visibility.py (the table in DESIGN.md). Organizers see everything because every entry's
audience includes ORGANIZERS. Tags are matched by each worker's hub, never by the channel layer,
which knows only its own groups (realtime/streams.py); "group" here always means a march group.
"""

from marshals.models import Role

PUBLIC = "public"
ORGANIZERS = "organizers"
MARSHALS = "marshals"
LEGAL = "legal"
MEDICS = "medics"


def march_group_tag(group_id: int) -> str:
    """Everyone in a march group, whatever their role (group alerts)."""
    return f"group.{group_id}"


def march_group_marshals_tag(group_id: int) -> str:
    """The marshals of one march group (their check-ins)."""
    return f"marshals.{group_id}"


_ROLE_TAG = {
    Role.ORGANIZER: ORGANIZERS,
    Role.MARSHAL: MARSHALS,
    Role.LEGAL: LEGAL,
    Role.MEDIC: MEDICS,
}


def role_tag(role: str) -> str:
    """The tag that reaches everyone of a role (an alert to a role); marchers' is PUBLIC."""
    return _ROLE_TAG.get(role, PUBLIC)


def participant_tag(participant_id: int) -> str:
    """One participant alone (a personal warning, an SOS with their own distance to it)."""
    return f"participant.{participant_id}"


def audience_text(tags: list[str] | tuple[str, ...]) -> str:
    """Storage form of an audience: organizers always included, space-delimited at both ends."""
    unique = sorted(set(tags) | {ORGANIZERS})
    return " " + " ".join(unique) + " "
