"""The retrain trigger: `buildWithParameters` on the model's retrain job through python-jenkins,
which fetches a CSRF crumb (`crumbIssuer/api/json`) when Jenkins issues them and sends basic auth.

Credentials come only from JENKINS_USER / JENKINS_API_TOKEN (the `jenkinsCredentialsId`
binding); Jenkins answers a queued build with 201 and `Location: <jenkins>/queue/item/<n>/`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from mlci import deadlines, urls
from mlci.errors import InfrastructureError, InputError

USER_ENV, TOKEN_ENV = "JENKINS_USER", "JENKINS_API_TOKEN"
TIMEOUT_SECONDS = 15
# The retrain job's string parameters, in the order its Jenkinsfile should declare them.
PARAMETERS = ("REASON", "MODEL_NAME", "MODEL_VERSION", "DRIFT_SUMMARY")


@dataclass(frozen=True)
class Queued:
    queue_item: int
    location: str  # the queue item's URL, as Jenkins returned it


def trigger(url: str, job: str, parameters: dict[str, str]) -> Queued:
    """Queue one build of `job`; a refusal or an unreachable Jenkins is an error naming both."""
    import jenkins
    import requests

    target = urls.split(url, "monitoring.jenkins_url")
    url = target.url
    user, token = os.environ.get(USER_ENV), os.environ.get(TOKEN_ENV)
    if target.credentials:  # the URL's user info, sent as basic auth and kept out of the URL
        user, token = target.credentials.username, target.credentials.password
    server = jenkins.Jenkins(url, username=user, password=token, timeout=TIMEOUT_SECONDS, retries=0)
    service = f"jenkins {url}"
    try:
        with deadlines.within(2 * TIMEOUT_SECONDS):  # the crumb and the build request, however slow
            response = server.jenkins_request(requests.Request("POST", server.build_job_url(job, dict(parameters))))
    except TimeoutError as err:
        raise InfrastructureError(service, f"cannot queue {job}: {err}") from None
    except jenkins.NotFoundException:
        raise InputError(f"monitoring.retrain_job: job {job!r} not found on {url} (HTTP 404)") from None
    except jenkins.JenkinsException as err:
        first = str(err).splitlines()[0]
        hint = "" if user and token else f" (no {USER_ENV}/{TOKEN_ENV} set: bind jenkinsCredentialsId)"
        raise InfrastructureError(service, f"cannot queue {job}: {first}{hint}") from None
    except requests.RequestException as err:
        raise InfrastructureError(service, f"cannot queue {job}: unreachable ({type(err).__name__})") from None
    location = response.headers.get("Location", "")
    number = location.rstrip("/").rsplit("/", 1)[-1]
    if "/queue/item/" not in location or not number.isdigit():
        raise InfrastructureError(
            service, f"cannot queue {job}: HTTP {response.status_code} without a queue item Location (got {location!r})"
        )
    return Queued(int(number), location)
