"""ICE servers for the browsers, with TURN credentials signed per person (TURN REST API).

coturn with `use-auth-secret` accepts username "<expiry unix time>:<anything>" with password
base64(HMAC-SHA1(secret, username)) until that expiry; it never needs to ask us. We put the
participant id after the colon so a leaked credential says whose it was, and keep the TTL short.
"""

import base64
import hashlib
import hmac
import time

from django.conf import settings


def turn_credential(participant_id: int, *, now: float | None = None, ttl: int | None = None) -> dict:
    cfg = settings.ROOMS
    expires = int((now if now is not None else time.time()) + (ttl if ttl is not None else cfg["TURN_CREDENTIAL_TTL"]))
    username = f"{expires}:{participant_id}"
    digest = hmac.new(cfg["TURN_SECRET"].encode(), username.encode(), hashlib.sha1).digest()
    return {"username": username, "credential": base64.b64encode(digest).decode(), "expires": expires}


def credential_valid(username: str, credential: str, *, now: float | None = None) -> bool:
    """What coturn checks, for tests and the operations guide: signature, then expiry."""
    secret = settings.ROOMS["TURN_SECRET"].encode()
    expected = base64.b64encode(hmac.new(secret, username.encode(), hashlib.sha1).digest()).decode()
    if not hmac.compare_digest(expected, credential):
        return False
    try:
        expires = int(username.split(":", 1)[0])
    except ValueError:
        return False
    return expires > (now if now is not None else time.time())


def ice_servers(participant_id: int) -> dict:
    cfg = settings.ROOMS
    servers = []
    if cfg["STUN_URLS"]:
        servers.append({"urls": list(cfg["STUN_URLS"])})
    expires = None
    if cfg["TURN_URLS"] and cfg["TURN_SECRET"]:
        cred = turn_credential(participant_id)
        servers.append({"urls": list(cfg["TURN_URLS"]), "username": cred["username"], "credential": cred["credential"]})
        expires = cred["expires"]
    return {"ice_servers": servers, "expires": expires}
