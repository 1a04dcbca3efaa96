import gc
import os

from django.conf import settings
from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "eventplatform.settings")
django_http = get_asgi_application()  # sets Django up before the consumers import models

from channels.sessions import SessionMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.urls import path  # noqa: E402

from eventplatform.realtime import server_tuning, wire  # noqa: E402
from eventplatform.realtime.consumer import EventConsumer  # noqa: E402

server_tuning.apply()

websocket_routes = [path("ws/events/<slug:slug>/", EventConsumer.as_asgi())]

application = ProtocolTypeRouter(
    {
        "http": django_http,
        # A page from another site must not open a socket with our visitors' cookies.
        # `wire.capture` keeps daphne's own send for the direct line that fan-out writes to.
        # Sessions only: the socket reads the session's user itself when it has no ticket
        # (realtime/auth.py), in the same database trip as the participant.
        "websocket": wire.capture(AllowedHostsOriginValidator(SessionMiddlewareStack(URLRouter(websocket_routes)))),
    }
)

# Everything the server needs is loaded now. Full collections of the cyclic garbage collector
# stop the event loop while they walk every container object, most of them Django's, Channels'
# and our modules' own, which live as long as the process: 100–170 ms per pass on the 2-core
# machine, the check-in scan bench's stalls (docs/benchmarks.md). Frozen objects are left out
# of collections, so a pass only walks what requests created since.
gc.freeze()
gc.set_threshold(*settings.GC_THRESHOLDS)  # full passes rarer (settings.py, decision 0005)
