"""The Docker engine, through the docker SDK: one client, errors that name the daemon."""

from __future__ import annotations

import os
from typing import Any

from mlci.errors import InfrastructureError


def daemon_url() -> str:
    return os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")


def client() -> Any:
    """A connected docker client; InfrastructureError when no daemon answers."""
    import docker
    from docker.errors import DockerException

    try:
        dc = docker.from_env(timeout=600)
        dc.ping()
    except DockerException as err:
        raise InfrastructureError(f"Docker daemon ({daemon_url()})", f"not reachable: {err}") from None
    return dc


def service() -> str:
    return f"Docker daemon ({daemon_url()})"
