"""`mlci run`: the plan, run locally, stage by stage, the way mlPipeline() runs it in Jenkins.

A live status line in a terminal (the stage's own output goes to a log file, shown on
failure), plain lines otherwise; stops at the first stage that does not pass; a summary table
at the end.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mlci import config, contracts, log, plan, protocol
from mlci.errors import EXIT_GATE_FAILED, EXIT_PASSED

TAIL_LINES = 40


def _approve(stage: dict[str, Any], yes: bool) -> tuple[bool, str]:
    message = stage["params"]["message"]
    if yes:
        return True, "approved by --yes"
    if sys.stdin.isatty():
        answer = input(f"{message} [y/N] ").strip().lower()
        return answer in {"y", "yes"}, "approved at the prompt" if answer in {"y", "yes"} else "declined at the prompt"
    return False, "needs approval: rerun with --yes, or set pipeline.continuous_deployment"


def _run_stage(stage: dict[str, Any], config_file: str, run_dir: Path) -> tuple[int, dict[str, Any]]:
    contract = contracts.load(stage["step"])
    params = {**stage["params"], "configFile": config_file}
    if not log.interactive():
        code, result = protocol.execute(contract, params)
    else:
        log_file = run_dir / f"{stage['name']}.log"
        with log_file.open("w", encoding="utf-8") as out, log.Status(stage["name"]):
            code, result = protocol.execute(contract, params, output=out)
        if code != EXIT_PASSED:
            tail = log_file.read_text(encoding="utf-8", errors="replace").splitlines()[-TAIL_LINES:]
            if tail:
                log.raw("\n".join([f"--- last lines of {log_file} ---", *tail, "---"]))
    protocol.write_result(str(run_dir / f"{stage['name']}.result.json"), result)
    return code, result


def run(config_file: str, only: Sequence[str] | None, yes: bool) -> int:
    protocol.inside_workspace(config_file, "--config")  # its stages' reports go next to it
    loaded = config.load(config_file)
    stages = plan.build(loaded.config, only)
    run_dir = loaded.project_dir / "reports" / "run"
    run_dir.mkdir(parents=True, exist_ok=True)
    rows: list[tuple[str, str, float, str]] = []
    code = EXIT_PASSED
    log.info(f"model {loaded.config.model.name}, {plan.describe(stages)}")
    for stage in stages:
        started = time.monotonic()
        if stage["kind"] == "approval":
            ok, summary = _approve(stage, yes)
            status = "approved" if ok else "stopped"
            code = EXIT_PASSED if ok else EXIT_GATE_FAILED
        else:
            log.info(f"stage {stage['name']}: started")
            code, result = _run_stage(stage, config_file, run_dir)
            status, summary = result["status"], result["summary"]
        elapsed = time.monotonic() - started
        rows.append((stage["name"], status, elapsed, summary))
        log.info(f"stage {stage['name']}: {status} in {elapsed:.1f}s: {summary}")
        if code != EXIT_PASSED:
            break
    skipped = [s["name"] for s in stages[len(rows) :]]
    rows.extend((name, "not run", 0.0, "an earlier stage did not pass") for name in skipped)
    print(table(rows))
    return code


def table(rows: list[tuple[str, str, float, str]]) -> str:
    header = ("stage", "status", "time", "summary")
    cells = [header] + [(n, s, f"{t:.1f}s", m) for n, s, t, m in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(3)]
    lines = ["  ".join(row[i].ljust(widths[i]) for i in range(3)) + "  " + row[3] for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths) + "  " + "-" * len(header[3]))
    return "\n".join(line.rstrip() for line in lines)
