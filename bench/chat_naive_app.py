"""The naive baseline for bench/chat_fanout.py: what a plain Channels chat does.

Every socket joins a channel-layer group; each message is `group_send` to the group and every
consumer serialises and sends it itself (one layer message + one json.dumps per socket).
No authentication: the baseline measures only the fan-out path.
"""

import json
import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "eventplatform.settings")

from django.core.asgi import get_asgi_application

django_http = get_asgi_application()

from channels.generic.websocket import AsyncWebsocketConsumer
from channels.routing import ProtocolTypeRouter, URLRouter
from django.urls import path

GROUP = "bench-stage"


class NaiveChatConsumer(AsyncWebsocketConsumer):
    async def connect(self):
        await self.accept()
        await self.channel_layer.group_add(GROUP, self.channel_name)

    async def disconnect(self, code):
        await self.channel_layer.group_discard(GROUP, self.channel_name)

    async def chat_message(self, event):
        await self.send(text_data=json.dumps({"type": "chat.message", "data": event["data"]}))


application = ProtocolTypeRouter(
    {"http": django_http, "websocket": URLRouter([path("ws/events/<slug:slug>/", NaiveChatConsumer.as_asgi())])}
)
