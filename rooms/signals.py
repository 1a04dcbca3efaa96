"""A breakout's Room deleted while people are in it: they go back to the stage."""

from django.db.models.signals import pre_delete
from django.dispatch import receiver

from eventplatform.models import Room
from rooms import services
from rooms.models import Assignment


@receiver(pre_delete, sender=Room, dispatch_uid="rooms.room_deleted")
def room_deleted(sender, instance: Room, **kwargs) -> None:
    if instance.kind != Room.Kind.BREAKOUT:
        return
    people = list(
        Assignment.objects.filter(breakout__room=instance, breakout__is_open=True).values_list(
            "participant_id", flat=True
        )
    )
    # Sent after the commit of the delete: the cascade removes the assignments themselves.
    services.room_deleted(instance.event_id, instance.pk, people)
