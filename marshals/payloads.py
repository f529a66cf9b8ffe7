"""How a participant is described in journal entries."""


def participant_payload(participant) -> dict:
    """Who, by callsign and role only: no real name is ever known or sent."""
    return {
        "participant": participant.pk,
        "callsign": participant.callsign,
        "role": participant.role,
        "group": participant.group_id,
    }
