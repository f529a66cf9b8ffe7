"""Who may see what: DESIGN.md's table of roles as data, decided here and nowhere else.

Every door asks this module: a socket subscribes to `subscriptions(...)` and its replay filters by
the same tags (`may_see`); REST views, the pages and exports ask `may_read(participant, thing)`
(or `require_read`) before they answer; selectors narrow their queries with the role sets and
`position_scope` below. Services name each journal entry's audience tags; which tags a role
receives is only said here, so a new role is one row in ROLE_TAGS and one per thing in READS.
"""

from fieldops import audiences, errors
from marshals.models import Role

ALL_ROLES = frozenset(Role)
# The people who work in the field: the command page lists them one row each.
FIELD_ROLES = frozenset({Role.MARSHAL, Role.LEGAL, Role.MEDIC})

# The tags each role's socket subscribes to, besides its march group and itself: "receives" in
# DESIGN.md. Organizers see everything because every entry's audience includes ORGANIZERS.
ROLE_TAGS: dict[str, tuple[str, ...]] = {
    Role.ORGANIZER: (audiences.ORGANIZERS,),
    Role.MARSHAL: (audiences.PUBLIC, audiences.MARSHALS),
    Role.LEGAL: (audiences.PUBLIC, audiences.LEGAL),
    Role.MEDIC: (audiences.PUBLIC, audiences.MEDICS),
    Role.MARCHER: (audiences.PUBLIC,),
}

# What each role may read through REST, the pages and exports (the journal is read by tags).
READS: dict[str, frozenset[str]] = {
    # Latest positions: marshals their own group's marshals, medics the medics (position_scope).
    "positions": frozenset({Role.ORGANIZER, Role.MARSHAL, Role.MEDIC}),
    # Open incidents; legal observers never see an SOS (sos_hidden).
    "incidents": ALL_ROLES - {Role.MARCHER},
    # Arrest records never reach marshals or marchers (DESIGN.md).
    "arrests": frozenset({Role.ORGANIZER, Role.LEGAL}),
    # Places that are not public (marchers are shown only the public ones).
    "private_places": ALL_ROLES - {Role.MARCHER},
    # The active SOS and danger zones of the safety board and the field pages.
    "safety_board": frozenset({Role.ORGANIZER, Role.MARSHAL, Role.MEDIC}),
    "active_sos": FIELD_ROLES,
    # Open alarms (each still only if its audience reaches the reader): those who may claim one.
    "alarms": frozenset({Role.ORGANIZER, Role.MARSHAL, Role.MEDIC}),
    # Who is overdue, off route, inside a zone, has not acknowledged a route: the command page.
    "watch": frozenset({Role.ORGANIZER}),
    "route_acks": frozenset({Role.ORGANIZER}),
    "participants": frozenset({Role.ORGANIZER}),
    "devices": frozenset({Role.ORGANIZER}),
    "audit": frozenset({Role.ORGANIZER}),
    # The after-action report: the whole day, with who did what.
    "report": frozenset({Role.ORGANIZER}),
    # The routes a participant must acknowledge: only marshals acknowledge.
    "route_requests": frozenset({Role.MARSHAL}),
}


def subscriptions(
    *, role: str, group_id: int | None, participant_id: int | None = None
) -> list[str]:
    """The audience tags a participant of this role and march group receives, live and in replay."""
    tags = list(ROLE_TAGS[role])
    if group_id is not None and role != Role.ORGANIZER:
        tags.append(audiences.march_group_tag(group_id))
        if role == Role.MARSHAL:
            tags.append(audiences.march_group_marshals_tag(group_id))
    if participant_id is not None and role != Role.ORGANIZER:
        tags.append(audiences.participant_tag(participant_id))
    return tags


def participant_tags(participant) -> list[str]:
    """`subscriptions` of one participant."""
    return subscriptions(
        role=participant.role, group_id=participant.group_id, participant_id=participant.pk
    )


def may_see(participant, audience: list[str] | tuple[str, ...] | str) -> bool:
    """Whether a journal entry with this audience (its tags, or their stored text) reaches them."""
    tags = audience.split() if isinstance(audience, str) else audience
    return not set(tags).isdisjoint(participant_tags(participant))


def may_read(participant, thing: str) -> bool:
    """Whether this participant's role may read `thing` (a key of READS) through any door."""
    return participant.role in READS[thing]


def require_read(participant, thing: str) -> None:
    """Refuse (`forbidden`) a participant whose role may not read `thing`."""
    if not may_read(participant, thing):
        raise errors.ActionError(errors.FORBIDDEN, errors.MSG_FORBIDDEN_VERB)


def position_scope(participant) -> dict | None:
    """Whose latest check-ins this participant may see, as CheckIn filters (the audiences of
    check-in entries): organizers everyone's, a marshal their group's marshals, a medic the
    medics; None for nobody."""
    if participant.role == Role.ORGANIZER:
        return {}
    if participant.role == Role.MARSHAL and participant.group_id is not None:
        return {"participant__role": Role.MARSHAL, "participant__group_id": participant.group_id}
    if participant.role == Role.MEDIC:
        return {"participant__role": Role.MEDIC}
    return None


def sos_hidden(participant) -> bool:
    """Whether SOS incidents are left out of what this participant reads among open incidents."""
    return participant.role == Role.LEGAL
