"""Who may call a socket command. Each permission is a named predicate on the actor."""

from collections.abc import Callable
from dataclasses import dataclass

from eventplatform.realtime.actor import Actor


@dataclass(frozen=True)
class Permission:
    name: str
    check: Callable[[Actor], bool]
    description: str

    def __call__(self, actor: Actor) -> bool:
        return self.check(actor)


participant = Permission("participant", lambda a: True, "any participant of the event")
speaker = Permission(
    "speaker", lambda a: bool(a.roles & {"speaker", "moderator", "organizer"}), "speakers, moderators, organizers"
)
moderator = Permission("moderator", lambda a: bool(a.roles & {"moderator", "organizer"}), "moderators and organizers")
staff = Permission("staff", lambda a: bool(a.roles & {"staff", "organizer"}), "on-site staff and organizers")
organizer = Permission("organizer", lambda a: "organizer" in a.roles, "organizers")
