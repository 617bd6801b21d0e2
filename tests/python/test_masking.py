"""The common masking every log line, result, report and child's output passes through."""

from __future__ import annotations

import base64
import html
import io
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest

from mlci import masking
from mlci.reports import Check, write_html, write_junit

PASSWORD = "pa&ss/wo:rd+1"  # noqa: S105 - a test value with symbols that every encoding changes


@pytest.fixture(autouse=True)
def credentials(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "bob-ci")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", PASSWORD)
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", "tok-5up3r-s3cret")
    yield
    masking.forget()


def encoded(value: str) -> list[str]:
    b64 = base64.b64encode(value.encode()).decode()
    return [value, quote(value, safe=""), quote_plus(value), html.escape(value), json.dumps(value)[1:-1], b64]


@pytest.mark.parametrize("form", encoded(PASSWORD), ids=["raw", "quote", "quote_plus", "html", "json", "base64"])
def test_every_printed_form_of_a_credential_is_masked(form: str) -> None:
    assert masking.redact(f"before {form} after") == "before **** after"


def test_basic_auth_of_the_bound_user_and_password_is_masked() -> None:
    basic = base64.b64encode(f"bob-ci:{PASSWORD}".encode()).decode()
    assert basic not in masking.redact(f"echoed header value {basic}")


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("MLflow (http://alice:hunter22@mlflow:5000): API", "MLflow (http://alice:****@mlflow:5000): API"),
        ("push to https://u:p%40ss@gw.example:9091/metrics", "push to https://u:****@gw.example:9091/metrics"),
        ("at http://u:p@ss@host/x", "at http://u:****@host/x"),
        ("Authorization: Basic Zm9vOmJhcg== was refused", "Authorization: **** was refused"),
        ("{'Authorization': 'Bearer eyJhbGciOi.J9x'}", "{'Authorization': '****'}"),
        ("sent Bearer abc.DEF-123_456", "sent Bearer ****"),
        ("header Basic dXNlcjpzM2NyZXQ=", "header Basic ****"),
        ("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNz\n-----END OPENSSH PRIVATE KEY-----", "****"),
    ],
)
def test_url_userinfo_and_auth_values_are_masked_without_knowing_them(text: str, masked: str) -> None:
    assert masking.redact(text) == masked


@pytest.mark.parametrize("prose", ["use Basic auth or a Bearer token", "ssh://deploy@host:22", "repo:1.0@sha256:abcd"])
def test_prose_and_plain_references_stay(prose: str) -> None:
    assert masking.redact(prose) == prose


def test_a_password_seen_in_a_url_is_masked_where_it_appears_alone() -> None:
    masking.learn({"mlflow": {"tracking_uri": "http://carol:n0t-in-env@127.0.0.1:5000"}})
    basic = base64.b64encode(b"carol:n0t-in-env").decode()
    text = masking.redact(f"Failed to resolve 'carol:n0t-in-env@127.0.0.1'; header Basic {basic}; n0t-in-env")
    assert "n0t-in-env" not in text and basic not in text


def test_excerpt_of_a_server_page_is_one_short_masked_line() -> None:
    page = "<html><body><h1>500</h1><pre>Authorization: Basic Zm9vOmJhcg==\n" + "x" * 5000 + "</pre></body></html>"
    got = masking.excerpt(page)
    assert len(got) <= masking.EXCERPT_CHARS and "\n" not in got and "<" not in got and "Zm9vOmJhcg" not in got


def test_report_writers_mask(tmp_path: Path) -> None:
    check = Check("auth", False, f"refused {PASSWORD}", f"details {quote(PASSWORD, safe='')}")
    junit = write_junit(tmp_path / "junit.xml", "suite", [check]).read_text(encoding="utf-8")
    page = write_html(tmp_path / "r.html", f"title {PASSWORD}", f"<p>{html.escape(PASSWORD)}</p>").read_text()
    for text in (junit, page):
        assert not any(form in text for form in encoded(PASSWORD))
    assert "refused ****" in junit


def test_child_output_is_masked_line_by_line(tmp_path: Path) -> None:
    script = f"import sys; print('token', {PASSWORD!r}); print('url http://x:y12@h', file=sys.stderr)"
    sink = io.StringIO()
    with masking.masked_pipe(sink) as fd:
        subprocess.run([sys.executable, "-c", script], stdout=fd, stderr=subprocess.STDOUT, check=True)
    assert sink.getvalue().splitlines() == ["token ****", "url http://x:****@h"]


def test_masked_stream_holds_a_partial_line_until_it_is_whole() -> None:
    inner = io.StringIO()
    stream = masking.MaskedStream(inner)
    stream.write(PASSWORD[:4])
    assert inner.getvalue() == ""  # half a secret never goes out unmasked
    stream.write(PASSWORD[4:] + "\n")
    stream.write("tail")
    stream.flush()
    assert inner.getvalue() == "****\ntail"


def test_a_credential_that_looks_like_markup_leaves_reports_readable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A user named `testcase` or `summary` is masked in values, never in the structure."""
    import xml.etree.ElementTree as ET

    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "testcase")
    monkeypatch.setenv("MLCI_REGISTRY_USERNAME", "summary")
    junit = write_junit(tmp_path / "junit.xml", "suite", [Check("login testcase", False, "as testcase")])
    case = ET.parse(junit).getroot().find("testsuite/testcase")  # noqa: S314 - our own file
    assert case is not None and case.get("name") == "login ****"
    result = json.loads(masking.write_json(tmp_path / "r.json", {"summary": "summary refused"}).read_text())
    assert result == {"summary": "**** refused"}
    pytest_report = tmp_path / "pytest.xml"
    pytest_report.write_text('<testsuites><testsuite name="s"><testcase name="testcase"/></testsuite></testsuites>')
    masking.mask_file(pytest_report)
    assert ET.parse(pytest_report).getroot().find("testsuite/testcase") is not None  # noqa: S314
