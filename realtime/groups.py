"""Audience tags and channel-layer group names: the one place they are built.

An audience tag says who may see a journal entry. Each role subscribes to a fixed set of tags
(ROLE_TAGS below, the table in DESIGN.md); organizers see everything because every entry's audience
includes ORGANIZERS. Tags are matched by each worker's hub; the one channel-layer group per event
follows channels' rule ^[a-zA-Z0-9\\-_.]+$ and stays under 100 chars.
"""

PUBLIC = "public"
ORGANIZERS = "organizers"
MARSHALS = "marshals"
LEGAL = "legal"
MEDICS = "medics"

ROLE_TAGS = {
    "organizer": (ORGANIZERS,),
    "marshal": (PUBLIC, MARSHALS),
    "legal": (PUBLIC, LEGAL),
    "medic": (PUBLIC, MEDICS),
    "marcher": (PUBLIC,),
}


def group_tag(group_id: int) -> str:
    """Everyone in a march group, whatever their role (group alerts)."""
    return f"group.{group_id}"


def group_marshals_tag(group_id: int) -> str:
    """The marshals of one march group (their check-ins)."""
    return f"marshals.{group_id}"


def role_tag(role: str) -> str:
    return {"organizer": ORGANIZERS, "marshal": MARSHALS, "legal": LEGAL, "medic": MEDICS}.get(
        role, PUBLIC
    )


def participant_tag(participant_id: int) -> str:
    """One participant alone (a personal warning, an SOS with their own distance to it)."""
    return f"participant.{participant_id}"


def tags_for(*, role: str, group_id: int | None, participant_id: int | None = None) -> list[str]:
    """The audience tags a participant of this role and group receives."""
    tags = list(ROLE_TAGS[role])
    if group_id is not None and role != "organizer":
        tags.append(group_tag(group_id))
        if role == "marshal":
            tags.append(group_marshals_tag(group_id))
    if participant_id is not None and role != "organizer":
        tags.append(participant_tag(participant_id))
    return tags


def may_see(*, role: str, group_id: int | None, audience: list[str] | tuple[str, ...]) -> bool:
    return not set(audience).isdisjoint(tags_for(role=role, group_id=group_id))


def audience_text(tags: list[str] | tuple[str, ...]) -> str:
    """Storage form of an audience: organizers always included, space-delimited at both ends."""
    unique = sorted(set(tags) | {ORGANIZERS})
    return " " + " ".join(unique) + " "


def event_stream(event_id: int) -> str:
    """The channel-layer group that carries every journal entry and revocation of one event: each
    worker serving the event subscribes once and picks its sockets by tag (realtime/hub.py)."""
    return f"ev{event_id}"
