"""WHIP ingest and WHEP playback over HTTP (RFC 9725 shape), forwarded to the relay process.

The views check who may do what (stream key, participant), size and shape of the SDP, then
ask the relay (streams/relay_link.py). They hold no media and no peer connection.
"""


from asgiref.sync import sync_to_async
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt

from streams import relay_link, selectors

MAX_SDP_BYTES = 32 * 1024  # a browser offer with audio and video is 3–8 KB


def _problem(status: int, code: str, message: str, **extra) -> JsonResponse:
    response = JsonResponse({"error": code, "message": message, **extra}, status=status)
    if status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="stage"'
    return response


def _bearer(request: HttpRequest) -> str:
    header = request.headers.get("Authorization", "")
    scheme, _sep, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def _cors(response: HttpResponse) -> HttpResponse:
    # OBS and other WHIP clients are not browsers; browsers of other sites get no credentials.
    response["Access-Control-Expose-Headers"] = "Location"
    return response


def _read_offer(request: HttpRequest) -> tuple[str | None, JsonResponse | None]:
    if request.content_type != "application/sdp":
        return None, _problem(415, "sdp_expected", _("Send the offer as application/sdp."))
    length = int(request.headers.get("Content-Length") or 0)
    if length > MAX_SDP_BYTES or len(request.body) > MAX_SDP_BYTES:
        return None, _problem(413, "sdp_too_large", _("The offer is too large."))
    try:
        sdp = request.body.decode("utf-8")
    except UnicodeDecodeError:
        return None, _problem(400, "sdp_invalid", _("The offer is not valid SDP."))
    if not sdp.startswith("v=0") or "\nm=" not in sdp:
        return None, _problem(400, "sdp_invalid", _("The offer is not valid SDP."))
    return sdp, None


_REFUSALS = {
    "stage_busy": (409, lambda: _("Someone is already live on this stage.")),
    "sdp_invalid": (400, lambda: _("The offer is not valid SDP.")),
    "codec_unsupported": (400, lambda: _("Your player cannot play the stage's video format.")),
    "nothing_live": (404, lambda: _("Nothing is live on this stage right now.")),
    "over_capacity": (503, lambda: _("The stage player is full right now.")),
    "resource_unknown": (404, lambda: _("There is no such stream.")),
    "not_owner": (403, lambda: _("This stream is not yours.")),
}


def _refusal(result: dict, **extra) -> JsonResponse:
    status, message = _REFUSALS.get(result["code"], (502, lambda: _("The stage relay failed.")))
    return _problem(status, result["code"], message(), **extra)


async def _ask(request, **params) -> dict | JsonResponse:
    """`request` is one of relay_link's calls: it picks the relay process that must answer."""
    try:
        return await request(**params)
    except relay_link.RelayUnavailable:
        return _problem(503, "relay_unavailable", _("The stage relay is not running."))


@csrf_exempt  # authenticated by the bearer stream key, never by a cookie
async def whip(request: HttpRequest, room_id: int) -> HttpResponse:
    if request.method == "OPTIONS":
        return _cors(HttpResponse(status=204, headers={"Allow": "POST, OPTIONS"}))
    if request.method != "POST":
        return HttpResponse(status=405, headers={"Allow": "POST, OPTIONS"})
    room = await sync_to_async(selectors.stage_room)(room_id)
    if room is None:
        return _problem(404, "stage_unknown", _("There is no such stage."))
    key = await sync_to_async(selectors.valid_key)(room_id, _bearer(request))
    if key is None:
        return _problem(401, "key_invalid", _("A valid stream key is needed (Authorization: Bearer …)."))
    sdp, error = _read_offer(request)
    if error:
        return error
    result = await _ask(relay_link.publish, room_id=room_id, event_id=room.event_id, key_id=key.pk, sdp=sdp)
    if isinstance(result, JsonResponse):
        return result
    if not result["ok"]:
        return _refusal(result)
    response = HttpResponse(result["sdp"], status=201, content_type="application/sdp")
    response["Location"] = f"/api/streams/{room_id}/whip/{result['resource']}"
    return _cors(response)


@csrf_exempt
async def whip_resource(request: HttpRequest, room_id: int, resource: str) -> HttpResponse:
    if request.method == "PATCH":  # trickle ICE and ICE restarts are not supported (RFC 9725 §4.3)
        return HttpResponse(status=405, headers={"Allow": "DELETE"})
    if request.method != "DELETE":
        return HttpResponse(status=405, headers={"Allow": "DELETE"})
    key = await sync_to_async(selectors.valid_key)(room_id, _bearer(request))
    if key is None:
        return _problem(401, "key_invalid", _("A valid stream key is needed (Authorization: Bearer …)."))
    result = await _ask(relay_link.unpublish, room_id=room_id, resource=resource, key_id=key.pk)
    if isinstance(result, JsonResponse):
        return result
    return HttpResponse(status=200) if result["ok"] else _refusal(result)


async def _viewer(request: HttpRequest, room):
    """A participant of the stage's event: by ticket (Bearer) or the ticket-link session."""
    token = _bearer(request)
    if token:
        return await sync_to_async(selectors.viewer_for)(room, ticket_secret=token)
    # A cookie session: only from our own pages (no CSRF token in WHEP, so check the origin).
    origin = request.headers.get("Origin")
    if origin and origin.rstrip("/") not in _own_origins(request):
        return None
    user = await request.auser()
    return await sync_to_async(selectors.viewer_for)(room, user=user)


def _own_origins(request: HttpRequest) -> set[str]:
    origins = {f"{request.scheme}://{request.get_host()}"}
    origins.update(o.rstrip("/") for o in getattr(settings, "CSRF_TRUSTED_ORIGINS", []))
    return origins


@csrf_exempt
async def whep(request: HttpRequest, room_id: int) -> HttpResponse:
    if request.method != "POST":
        return HttpResponse(status=405, headers={"Allow": "POST"})
    room = await sync_to_async(selectors.stage_room)(room_id)
    if room is None:
        return _problem(404, "stage_unknown", _("There is no such stage."))
    viewer = await _viewer(request, room)
    if viewer is None:
        return _problem(401, "not_participant", _("Open your ticket link to watch this stage."))
    sdp, error = _read_offer(request)
    if error:
        return error
    result = await _ask(relay_link.play, room_id=room_id, participant_id=viewer.pk, event_id=room.event_id, sdp=sdp)
    if isinstance(result, JsonResponse):
        return result
    if not result["ok"]:
        # The player falls back to what the stage offers instead (the slate or an external source).
        stage = await sync_to_async(selectors.stage_view)(room_id)
        response = _refusal(result, stage=stage)
        if stage["fallback_url"]:
            response["Link"] = f'<{stage["fallback_url"]}>; rel="alternate"'
        if result["code"] == "over_capacity":
            response["Retry-After"] = "10"
        return response
    response = HttpResponse(result["sdp"], status=201, content_type="application/sdp")
    response["Location"] = f"/api/streams/{room_id}/whep/{result['resource']}"
    return response


@csrf_exempt
async def whep_resource(request: HttpRequest, room_id: int, resource: str) -> HttpResponse:
    if request.method != "DELETE":
        return HttpResponse(status=405, headers={"Allow": "DELETE"})
    room = await sync_to_async(selectors.stage_room)(room_id)
    viewer = await _viewer(request, room) if room else None
    if viewer is None:
        return _problem(401, "not_participant", _("Open your ticket link to watch this stage."))
    result = await _ask(relay_link.stop_viewer, resource=resource, participant_id=viewer.pk)
    if isinstance(result, JsonResponse):
        return result
    return HttpResponse(status=200) if result["ok"] else _refusal(result)


