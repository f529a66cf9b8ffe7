"""Services for the people of an event: invites, joining, role and group changes, device tokens,
revocation. What they do in the field (check-ins, acknowledgements) lives with the field rules."""

import uuid
from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from fieldops import audiences, errors
from fieldops.models import MarchGroup
from fieldops.services import kinds
from fieldops.services.journal import journal_find_action, journal_writer
from realtime import fanout

from . import tokens
from .models import DeviceToken, Invite, Participant, PushSubscription, Role
from .payloads import participant_payload

MSG_NO_SUCH_DEVICE = "No such device at this event."
MSG_NO_SUCH_INVITE = "No such invite at this event."
MSG_NO_SUCH_ROLE = "No such role."
UNCHANGED = object()  # participant_change: leave the group as it is


@dataclass
class IssuedInvite:
    invite: Invite
    code: str


@dataclass
class Joined:
    participant: Participant
    token: str | None


def invite_create(
    *,
    event,
    role: str,
    group: int | None = None,
    label: str = "",
    expires_in_hours: int = 24,
    max_uses: int | None = None,
    created_by: Participant | None = None,
) -> IssuedInvite:
    """Make an invite; its code is returned once and stored only hashed."""
    if group is not None and not MarchGroup.objects.filter(pk=group, event=event).exists():
        raise errors.ActionError.field("group", errors.MSG_NO_SUCH_GROUP)
    code = tokens.new_invite_code()
    invite = Invite.objects.create(
        event=event,
        role=role,
        group_id=group,
        code_hash=tokens.digest(code),
        label=label,
        expires_at=timezone.now() + timedelta(hours=expires_in_hours),
        max_uses=max_uses,
        created_by=created_by,
    )
    return IssuedInvite(invite=invite, code=code)


def invite_redeem(*, code: str, callsign: str = "", device: str = "", with_token: bool) -> Joined:
    """Turn an invite code into a participant, and a device token when asked for one."""
    with transaction.atomic():
        invite = (
            Invite.objects.select_for_update()
            .select_related("event")
            .filter(code_hash=tokens.digest(code))
            .first()
        )
        if invite is None or not invite.usable():
            raise errors.ActionError.field("code", errors.MSG_INVITE_UNUSABLE)
        Invite.objects.filter(pk=invite.pk).update(uses=F("uses") + 1)
        participant = Participant.objects.create(
            event=invite.event,
            role=invite.role,
            group=invite.group,
            invite=invite,
            callsign=callsign or f"{invite.role[:3]}-{uuid.uuid4().hex[:5]}",
        )
        raw = None
        if with_token:
            raw = tokens.new_token()
            DeviceToken.objects.create(
                participant=participant, token_hash=tokens.digest(raw), label=device
            )
    if participant.role != Role.MARCHER:  # marchers are many and anonymous; no entry each
        with journal_writer(event_id=invite.event_id) as journal:
            journal.append(
                kind=kinds.PARTICIPANT_JOINED,
                audience=[audiences.ORGANIZERS],
                data=participant_payload(participant),
                actor=participant,
            )
    return Joined(participant=participant, token=raw)


def participant_for_staff(*, event, user) -> Participant:
    """The organizer participant that acts for a staff user of the admin at this event."""
    participant, _ = Participant.objects.get_or_create(
        event=event,
        user=user,
        role=Role.ORGANIZER,
        defaults={"callsign": user.get_username()[:40]},
    )
    return participant


def _resent(*, participant, client_id: uuid.UUID | None):
    """The entry an earlier copy of this action made (a resend: nothing is done twice), or None."""
    return client_id and journal_find_action(actor=participant, client_id=client_id)


def _target(*, participant, target: int) -> Participant:
    """A participant of the actor's event, or an error naming the field."""
    found = Participant.objects.filter(pk=target, event_id=participant.event_id).first()
    if found is None:
        raise errors.ActionError.field("participant", errors.MSG_NO_SUCH_PARTICIPANT)
    return found


def participant_revoke(
    *, participant, target: int, revoke_invite: bool = False, client_id: uuid.UUID | None = None
):
    """Revoke a participant and every device token of theirs, and with `revoke_invite` the invite
    they joined with, so that a seized phone cannot join again with its code. Their sockets close
    at once on every worker, and their Web Push subscriptions are deleted: nothing more reaches a
    seized phone's lock screen."""
    earlier = _resent(participant=participant, client_id=client_id)
    if earlier:
        return earlier
    with journal_writer(event_id=participant.event_id) as journal:
        found = _target(participant=participant, target=target)
        now = timezone.now()
        Participant.objects.filter(pk=found.pk, revoked_at__isnull=True).update(revoked_at=now)
        DeviceToken.objects.filter(participant=found, revoked_at__isnull=True).update(
            revoked_at=now
        )
        PushSubscription.objects.filter(participant=found).delete()
        if revoke_invite and found.invite_id is not None:
            Invite.objects.filter(pk=found.invite_id, revoked_at__isnull=True).update(
                revoked_at=now
            )
        entry = journal.append(
            kind=kinds.PARTICIPANT_REVOKED,
            audience=[audiences.ORGANIZERS],
            data={
                **participant_payload(found),
                "invite_revoked": revoke_invite and found.invite_id is not None,
            },
            actor=participant,
            client_id=client_id,
        )
        _close_on_commit(event_id=found.event_id, participants=[found.pk])
        return entry


def participant_change(
    *,
    participant,
    target: int,
    role: str | None = None,
    group: int | None | object = UNCHANGED,
    client_id: uuid.UUID | None = None,
):
    """Give a participant another role or march group (`group=None`: none). Their open sockets
    are closed on every worker with a code that says "reconnect": they come back as what they are
    now, and receive what that role and group may see from then on. None if nothing changes."""
    earlier = _resent(participant=participant, client_id=client_id)
    if earlier:
        return earlier
    with journal_writer(event_id=participant.event_id) as journal:
        found = _target(participant=participant, target=target)
        if role is not None and role not in Role.values:
            raise errors.ActionError.field("role", MSG_NO_SUCH_ROLE)
        if group is UNCHANGED:
            group = found.group_id
        elif (
            group is not None
            and not MarchGroup.objects.filter(pk=group, event_id=participant.event_id).exists()
        ):
            raise errors.ActionError.field("group", errors.MSG_NO_SUCH_GROUP)
        was = {"role": found.role, "group": found.group_id}
        if (role or found.role, group) == (found.role, found.group_id):
            return None
        found.role, found.group_id = role or found.role, group
        Participant.objects.filter(pk=found.pk).update(role=found.role, group_id=found.group_id)
        entry = journal.append(
            kind=kinds.PARTICIPANT_CHANGED,
            audience=[audiences.ORGANIZERS],
            data={**participant_payload(found), "was": was},
            actor=participant,
            client_id=client_id,
        )
        _close_on_commit(event_id=found.event_id, rescoped=[found.pk])
        return entry


def participant_delete(*, participant, target: int) -> None:
    """Delete a participant: revoked first, so their sockets close like any revocation's; the
    journal keeps what they did, without them."""
    with transaction.atomic():
        participant_revoke(participant=participant, target=target)
        Participant.objects.filter(pk=target, event_id=participant.event_id).delete()


def token_revoke(*, participant, device: int, client_id: uuid.UUID | None = None):
    """Revoke one device's token: that device's sockets close at once on every worker, and the
    participant's other devices stay connected."""
    earlier = _resent(participant=participant, client_id=client_id)
    if earlier:
        return earlier
    with journal_writer(event_id=participant.event_id) as journal:
        token = (
            DeviceToken.objects.select_related("participant")
            .filter(pk=device, participant__event_id=participant.event_id)
            .first()
        )
        if token is None:
            raise errors.ActionError.field("device", MSG_NO_SUCH_DEVICE)
        DeviceToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
        entry = journal.append(
            kind=kinds.DEVICE_REVOKED,
            audience=[audiences.ORGANIZERS],
            data={**participant_payload(token.participant), "device": token.pk,
                  "label": token.label},
            actor=participant,
            client_id=client_id,
        )  # fmt: skip
        _close_on_commit(event_id=participant.event_id, tokens=[token.pk])
        return entry


def invite_revoke(*, participant, invite: int, client_id: uuid.UUID | None = None):
    """Revoke an invite: nobody joins with its code any more. Who already joined with it stays
    (revoke them, with `participant_revoke`, to close their sockets)."""
    earlier = _resent(participant=participant, client_id=client_id)
    if earlier:
        return earlier
    with journal_writer(event_id=participant.event_id) as journal:
        found = Invite.objects.filter(pk=invite, event_id=participant.event_id).first()
        if found is None:
            raise errors.ActionError.field("invite", MSG_NO_SUCH_INVITE)
        Invite.objects.filter(pk=found.pk, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
        return journal.append(
            kind=kinds.INVITE_REVOKED,
            audience=[audiences.ORGANIZERS],
            data={"invite": found.pk, "role": found.role, "group": found.group_id,
                  "label": found.label},
            actor=participant,
            client_id=client_id,
        )  # fmt: skip


def device_list(*, participant_id: int, event_id: int) -> list[dict]:
    """A participant's devices for organizers: label and last use, never the token. A browser
    that joined with a link has a session, not a device: revoking the participant ends it."""
    if not Participant.objects.filter(pk=participant_id, event_id=event_id).exists():
        raise errors.ActionError.field(
            "participant", errors.MSG_NO_SUCH_PARTICIPANT, code=errors.NOT_FOUND
        )
    tokens = DeviceToken.objects.filter(participant_id=participant_id).order_by("pk")
    return [
        {
            "device": t.pk,
            "label": t.label,
            "created_at": t.created_at,
            "last_used_at": t.last_used_at,
            "revoked": t.revoked_at is not None,
        }
        for t in tokens
    ]


def _close_on_commit(*, event_id: int, participants=(), tokens=(), rescoped=()) -> None:
    """Once the change is committed, every worker closes the sockets it concerns. A worker that
    misses the message still finds out: each socket re-reads its credential before it acts, and
    each worker after it repaired a gap (marshals/access.py)."""
    transaction.on_commit(
        lambda: fanout.publish_revocation(
            event_id=event_id,
            participants=list(participants),
            tokens=list(tokens),
            rescoped=list(rescoped),
        )
    )
