"""Draw a new Event.map_stamp at every change to an event's routes and places, whoever makes
it: a service, the admin, a cascade."""

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from fieldops.models import Event, Place, Route
from fieldops.models.events import new_map_stamp


@receiver([post_save, post_delete], sender=Route)
@receiver([post_save, post_delete], sender=Place)
def map_changed(sender, instance, **kwargs):
    Event.objects.filter(pk=instance.event_id).update(map_stamp=new_map_stamp())
