"""Contract test of the retrain trigger against recorded real Jenkins responses (no Jenkins
server can be installed here): crumb fetched and sent, auth failure, unknown job, and the
queue item read from the 201's Location header."""

from __future__ import annotations

import pytest
from services.jenkins_recorded import TOKEN, USER, Jenkins

from mlci.errors import InfrastructureError, InputError
from mlci.monitoring import jenkins

PARAMS = {"REASON": "drift: dataset drift", "MODEL_NAME": "churn", "MODEL_VERSION": "3", "DRIFT_SUMMARY": "x0"}


@pytest.fixture
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(jenkins.USER_ENV, USER)
    monkeypatch.setenv(jenkins.TOKEN_ENV, TOKEN)


def test_queues_with_crumb_and_parameters(jenkins_recorded: Jenkins, credentials: None) -> None:
    queued = jenkins.trigger(jenkins_recorded.url, "retrain-churn", PARAMS)
    assert queued == jenkins.Queued(42, f"{jenkins_recorded.url}/queue/item/42/")
    crumb, build = jenkins_recorded.requests
    assert (crumb.method, crumb.path) == ("GET", "/crumbIssuer/api/json")
    assert (build.method, build.path) == ("POST", "/job/retrain-churn/buildWithParameters")
    assert build.headers["Jenkins-Crumb"].startswith("5d1b4a7e")
    assert {k: v[0] for k, v in build.query.items()} == PARAMS


def test_folder_job(jenkins_recorded: Jenkins, credentials: None) -> None:
    assert jenkins.trigger(jenkins_recorded.url, "ml/retrain-demo", PARAMS).queue_item == 42
    assert jenkins_recorded.builds()[0].path == "/job/ml/job/retrain-demo/buildWithParameters"


def test_auth_failure_names_the_credential_and_never_the_token(
    jenkins_recorded: Jenkins, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(jenkins.USER_ENV, USER)
    monkeypatch.setenv(jenkins.TOKEN_ENV, "wrong-token-value")
    with pytest.raises(InfrastructureError) as err:
        jenkins.trigger(jenkins_recorded.url, "retrain-churn", PARAMS)
    assert "authentication failed [401]" in str(err.value) and "wrong-token-value" not in str(err.value)
    assert jenkins_recorded.builds() == []


def test_missing_credentials_say_which_variables(jenkins_recorded: Jenkins, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(jenkins.USER_ENV, raising=False)
    monkeypatch.delenv(jenkins.TOKEN_ENV, raising=False)
    with pytest.raises(InfrastructureError, match="no JENKINS_USER/JENKINS_API_TOKEN set: bind jenkinsCredentialsId"):
        jenkins.trigger(jenkins_recorded.url, "retrain-churn", PARAMS)


def test_unknown_job_is_bad_config(jenkins_recorded: Jenkins, credentials: None) -> None:
    with pytest.raises(InputError, match=r"monitoring.retrain_job: job 'retrain-nope' not found on .* \(HTTP 404\)"):
        jenkins.trigger(jenkins_recorded.url, "retrain-nope", PARAMS)


def test_unreachable_jenkins(credentials: None) -> None:
    from services.ports import refused_url

    with refused_url() as dead, pytest.raises(InfrastructureError, match="unreachable"):
        jenkins.trigger(dead, "retrain-churn", PARAMS)
