"""vars/*.txt and docs/ are generated from the contracts and the schema; stale files fail."""

from __future__ import annotations

from pathlib import Path

from conftest import REPO
from mlci import gendocs


def test_generated_files_are_fresh() -> None:
    stale = [
        str(path.relative_to(REPO))
        for path, text in gendocs.render(REPO).items()
        if not path.exists() or path.read_text(encoding="utf-8") != text
    ]
    assert stale == [], "run `make docs`"


def test_check_mode_reports_a_stale_file(tmp_path: Path) -> None:
    assert gendocs.main([str(tmp_path)]) == 0  # writes everything
    (tmp_path / "vars" / "mlTest.txt").write_text("old\n")
    assert gendocs.main(["--check", str(tmp_path)]) == 1
    assert (tmp_path / "vars" / "mlTest.txt").read_text() == "old\n"


def test_step_doc_lists_every_param_and_credential() -> None:
    text = (REPO / "docs" / "steps" / "mlTest.md").read_text()
    for name in ("paths", "pytestArgs", "failOnError", "mlflowCredentialsId", "MLFLOW_TRACKING_PASSWORD"):
        assert f"`{name}`" in text


def test_config_doc_covers_every_section() -> None:
    text = (REPO / "docs" / "config.md").read_text()
    for section in ("model", "validate", "validate.thresholds", "deploy", "monitoring.drift", "pipeline"):
        assert f"## `{section}`" in text
