"""Bearer tokens: found by their hash, refused once revoked or for another event, and their use
recorded at most once a minute (no write per request)."""

from datetime import timedelta

from django.utils import timezone

from marshals.models import DeviceToken
from marshals.tokens import token_authenticate

from .factories import EventFactory, ParticipantFactory, issue_token


def test_a_token_opens_its_own_event_only(cast):
    raw = issue_token(cast.marshal_a)
    participant, token_id = token_authenticate(raw, event_slug=cast.event.slug)
    assert participant == cast.marshal_a
    assert DeviceToken.objects.get(pk=token_id).participant_id == cast.marshal_a.pk
    assert token_authenticate(raw, event_slug=EventFactory().slug) is None
    # Without an event (REST), the participant comes with its event.
    assert token_authenticate(raw)[0].event.slug == cast.event.slug


def test_a_revoked_token_or_participant_or_a_wrong_token_is_refused(cast):
    raw = issue_token(cast.marshal_a)
    assert token_authenticate(raw + "x") is None
    assert token_authenticate("") is None
    assert token_authenticate("a" * 201) is None
    DeviceToken.objects.filter(participant=cast.marshal_a).update(revoked_at=timezone.now())
    assert token_authenticate(raw) is None
    other = ParticipantFactory(event=cast.event, role="medic")
    raw_other = issue_token(other)
    other.revoked_at = timezone.now()
    other.save()
    assert token_authenticate(raw_other) is None


def test_use_is_recorded_at_most_once_a_minute(cast):
    raw = issue_token(cast.marshal_a)
    _, token_id = token_authenticate(raw)
    first = DeviceToken.objects.get(pk=token_id).last_used_at
    assert first is not None
    token_authenticate(raw)
    assert DeviceToken.objects.get(pk=token_id).last_used_at == first
    long_ago = timezone.now() - timedelta(minutes=2)
    DeviceToken.objects.filter(pk=token_id).update(last_used_at=long_ago)
    token_authenticate(raw)
    assert DeviceToken.objects.get(pk=token_id).last_used_at > long_ago + timedelta(minutes=1)


def test_a_credential_holds_until_its_token_or_its_participant_is_revoked(cast):
    from marshals.tokens import credential_active

    raw = issue_token(cast.marshal_a)
    _, token_id = token_authenticate(raw)
    holds = {"participant_id": cast.marshal_a.pk, "token_id": token_id}
    assert credential_active(**holds)
    assert credential_active(participant_id=cast.marshal_a.pk, token_id=None)
    DeviceToken.objects.filter(pk=token_id).update(revoked_at=timezone.now())
    assert not credential_active(**holds)
    assert credential_active(participant_id=cast.marshal_a.pk, token_id=None)
    cast.marshal_a.revoked_at = timezone.now()
    cast.marshal_a.save()
    assert not credential_active(participant_id=cast.marshal_a.pk, token_id=None)
