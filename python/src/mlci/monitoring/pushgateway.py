"""Pushing a registry of gauges to a Pushgateway, with basic auth from PUSHGATEWAY_USERNAME /
PUSHGATEWAY_PASSWORD (the `pushgatewayCredentialsId` binding). Each group (job + grouping key)
is replaced whole on every push, so a model's or a step's gauges never mix with another's."""

from __future__ import annotations

import os
from typing import Any

from mlci import deadlines, urls

USER_ENV, PASSWORD_ENV = "PUSHGATEWAY_USERNAME", "PUSHGATEWAY_PASSWORD"


def push(url: str, job: str, registry: Any, grouping_key: dict[str, str], timeout: float) -> None:
    """Raises whatever urllib raises (URLError, HTTPError, OSError, ValueError); callers decide.
    Credentials in the URL's user info are sent as basic auth, never in the URL."""
    from prometheus_client import push_to_gateway
    from prometheus_client.exposition import basic_auth_handler, default_handler

    target = urls.split(url, "monitoring.pushgateway_url")
    url = target.url
    user, password = os.environ.get(USER_ENV), os.environ.get(PASSWORD_ENV)
    if target.credentials:
        user, password = target.credentials.username, target.credentials.password

    def handler(url: str, method: str, timeout: float | None, headers: list[Any], data: bytes) -> Any:
        if user and password:
            return basic_auth_handler(url, method, timeout, headers, data, user, password)
        return default_handler(url, method, timeout, headers, data)

    # `timeout` bounds each wait; the whole push gets twice that (a trickling gateway).
    with deadlines.within(2 * timeout):
        push_to_gateway(url, job=job, registry=registry, grouping_key=grouping_key, timeout=timeout, handler=handler)
