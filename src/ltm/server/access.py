"""Who is calling: the API key of a request (``Authorization: Bearer ...`` or ``X-API-Key``)
and the dependency each ``/v1/users/{user}`` route declares: the key must reach the user and
hold the right (read, write, admin), else 403; no valid key where keys are required is 401."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping

from fastapi import Depends, Request
from fastapi import Path as PathParam

from ..validate import NOT_A_USER
from . import models as M
from .auth import ALL_USERS, OPEN_ACCESS, ApiKey, KeyStore
from .errors import ApiError


class Access:
    """The key checks of one app: ``keys`` holds the keys; ``require_keys`` True = every
    request needs one, False = open (no key checked), None = needed once any key exists."""

    def __init__(self, keys: KeyStore, require_keys: bool | None, loopback: bool = False
                 ) -> None:
        self.keys, self.require_keys, self.loopback = keys, require_keys, loopback

    def keys_required(self) -> bool:
        return self.require_keys if self.require_keys is not None else self.keys.any_keys()

    def principal_of(self, headers: Mapping[str, str] | None) -> ApiKey:
        """The key the headers carry (OPEN_ACCESS where none is needed); ApiError 401."""
        text = None
        if headers is not None:
            auth = headers.get("authorization") or ""
            if auth[:7].lower() == "bearer ":
                text = auth[7:].strip()
            text = text or headers.get("x-api-key")
        if text:
            if self.require_keys is False:
                return self._open(headers)
            found = self.keys.verify(text)
            if found is None:
                raise ApiError(401, "unauthorized", "the API key is not valid (or revoked)")
            return found
        if self.keys_required():
            raise ApiError(401, "unauthorized", "an API key is required: send "
                           "'Authorization: Bearer ltm_...' (create one with `ltm keys create`)")
        return self._open(headers)

    def _open(self, headers: Mapping[str, str] | None) -> ApiKey:
        """OPEN_ACCESS, on loopback only for requests addressed to a loopback name or an IP:
        a page on another name that DNS points at 127.0.0.1 (DNS rebinding) gets 403."""
        host = (headers or {}).get("host")
        if self.loopback and host and not _loopback_name(host):
            raise ApiError(403, "forbidden", f"this server has no API keys and only answers "
                           f"requests addressed to localhost or an IP address, not Host "
                           f"{host[:100]!r} (DNS rebinding protection; create a key with "
                           "`ltm keys create` to serve other names)")
        return OPEN_ACCESS

    def principal(self) -> Callable[[Request], ApiKey]:
        """The dependency that resolves a request's key."""
        def principal(request: Request) -> ApiKey:
            return self.principal_of(request.headers)
        return principal

    def user_with(self, right: str, principal: Callable[[Request], ApiKey]
                  ) -> Callable[..., str]:
        """The dependency of a ``{user}`` route: the user, once the key reaches it with
        ``right``."""
        def check(user: str = PathParam(min_length=1, max_length=M.MAX_NAME, pattern=r"\S",
                                        description="The user (memory scope) acted for."),
                  key: ApiKey = Depends(principal)) -> str:
            if "\x00" in user:
                raise ApiError(422, "invalid_input", "user must not contain NUL", "user")
            if user == ALL_USERS:
                raise ApiError(422, "invalid_input", NOT_A_USER, "user")
            if not key.covers(user):
                raise ApiError(403, "forbidden", "this API key does not reach that user")
            if right not in key.rights:
                raise ApiError(403, "forbidden", f"this API key lacks the {right} right")
            return user
        return check


def _loopback_name(host: str) -> bool:
    """Whether a Host header names localhost or an IP address (not a name DNS could move)."""
    name = host.strip().lower()
    if name.startswith("["):
        name = name[1:name.find("]")]
    elif name.count(":") == 1:
        name = name.partition(":")[0]
    if name in ("localhost", "localhost."):
        return True
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True
