"""Credentials written into a service URL (`http://user:password@host/`): taken out of it before
anything touches the network, and sent as credentials (HTTP basic auth) instead.

Left in, `user:password@host` is what some clients resolve as a host name (the password goes to
the system resolver) and what others print. A user name without a password is refused: it is
a token or a mistake, and there is no safe way to tell which.
"""

from __future__ import annotations

import base64
import urllib.parse
from dataclasses import dataclass, field

from mlci.errors import InputError

WEB_SCHEMES = ("http", "https")


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str = field(repr=False)

    def basic(self) -> str:
        """The `Authorization` header value."""
        return "Basic " + base64.b64encode(f"{self.username}:{self.password}".encode()).decode()


@dataclass(frozen=True)
class ServiceUrl:
    url: str  # without user info
    credentials: Credentials | None = field(default=None, repr=False)


def split(url: str, key: str) -> ServiceUrl:
    """`url` without its user info, and the credentials it held; InputError naming `key` (never
    the password) when the user info is not `user:password`."""
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError as err:
        raise InputError(f"{key}: not a valid URL ({err})") from None
    if parts.scheme.lower() not in WEB_SCHEMES or "@" not in parts.netloc:
        return ServiceUrl(url)
    userinfo, _, host = parts.netloc.rpartition("@")
    user, colon, password = userinfo.partition(":")
    if not (user and colon and password):
        raise InputError(
            f"{key}: the URL's user info must be user:password (or none: bind the credentials instead, "
            "e.g. mlflowCredentialsId); a user name alone is refused"
        )
    if not host:
        raise InputError(f"{key}: no host after the URL's user info")
    clean = urllib.parse.urlunsplit(parts._replace(netloc=host))
    return ServiceUrl(clean, Credentials(urllib.parse.unquote(user), urllib.parse.unquote(password)))
