"""The step protocol: `mlci <command> --params F --result R`.

Reads the params file, validates it against the step's contract, loads `.mlci.yml` with the
params on top, runs the step, and always writes the result file: status, one-line summary,
outputs, reports and junit. Exit codes: 0 passed, 1 a gate failed, 2 bad input or config,
3 infrastructure (an unexpected crash counts here, its traceback in the log).
"""

from __future__ import annotations

import os
import time
import traceback
from pathlib import Path
from typing import IO, Any, Literal

from mlci import __version__, contracts, log, masking, reports
from mlci.errors import EXIT_GATE_FAILED, EXIT_PASSED, InputError, MlciError
from mlci.step import StepContext

Status = Literal["passed", "failed", "error"]


def read_params(path: str | None) -> dict[str, Any]:
    if path is None:
        return {}
    from mlci import bounded

    try:
        text = bounded.read_text(Path(path), path, bounded.MAX_CONFIG_BYTES)
    except FileNotFoundError:
        raise InputError(f"{path}: params file not found") from None
    except (OSError, ValueError) as err:
        raise InputError(f"{path}: cannot read params file: {getattr(err, 'strerror', None) or err}") from None
    data = bounded.json_loads(text, path)
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a JSON object of step params, got {contracts.describe(data)}")
    return data


def prepare(contract: contracts.Contract, params: dict[str, Any], source: str) -> StepContext:
    from mlci import config

    masking.learn(params)  # a password in a URL param (trackingUri) is masked wherever it shows
    checked = contracts.validate(contract, params, source)
    log.set_verbose(bool(checked.options.get("verbose")))
    names = {p.config: n for n, p in contract.params.items() if p.config}
    config_file = checked.options["configFile"]
    inside_workspace(config_file, f"{source} configFile")
    loaded = config.load(config_file, checked.overrides, source, names)
    masking.learn(loaded.config.model_dump(mode="json"))
    report_dir = loaded.project_dir / "reports" / contract.command
    return StepContext(contract, loaded, checked.options, report_dir)


def inside_workspace(name: str, what: str) -> None:
    """A step writes its reports next to its config: a config outside the workspace would make
    it write outside. The workspace is Jenkins' WORKSPACE when the Jenkins step runs the CLI (it
    sets MLCI_RESULT), else the directory the CLI runs in. A relative name may not climb out of
    it; under Jenkins an absolute one may not point out either."""
    from mlci import config

    workspace = os.environ.get("WORKSPACE") if os.environ.get("MLCI_RESULT") else None
    if not workspace and Path(name).is_absolute():
        return  # a local caller naming a file by full path chose where the reports go
    root = Path(workspace).resolve() if workspace else Path.cwd().resolve()
    try:
        target = (Path.cwd() / name).resolve()
    except (OSError, ValueError):
        return  # an unreadable name: config.load says what is wrong with it
    if not target.is_relative_to(root):
        raise InputError(
            f"{what}: {config.shown_path(name)} is outside the workspace {root}; "
            "a step's config and the reports it writes stay inside it"
        )


def _relative(path: Path) -> str:
    # Result paths are relative to where the CLI ran (the workspace), for archiveArtifacts.
    try:
        return os.path.relpath(path)
    except ValueError:
        return str(path)


def execute(
    step: str | contracts.Contract,
    params: dict[str, Any] | None = None,
    params_file: str | None = None,
    output: IO[str] | None = None,
    flags: dict[str, Any] | None = None,
) -> tuple[int, dict[str, Any]]:
    """Run one step (its contract, or its CLI command) on `params`, or on the params file with
    `flags` (command-line params) over it; return its exit code and the result document. Never
    raises."""
    from mlci import steps

    started = time.monotonic()
    command = step if isinstance(step, str) else step.command
    result: dict[str, Any] = {
        "step": None,
        "command": command,
        "status": "error",
        "exitCode": 3,
        "summary": "",
        "outputs": {},
        "reports": [],
        "junit": None,
        "service": None,
        "durationSeconds": 0.0,
        "mlciVersion": __version__,
    }
    ctx: StepContext | None = None
    try:
        contract = contracts.by_command(step) if isinstance(step, str) else step
        result["step"] = contract.step
        source = params_file or "params"
        if params is None:
            params = {**read_params(params_file), **(flags or {})}
        ctx = prepare(contract, params, source)
        ctx.output = output
        outcome = steps.run(ctx)
        result.update(
            status=outcome.status,
            exitCode=EXIT_PASSED if outcome.status == "passed" else EXIT_GATE_FAILED,
            summary=outcome.summary,
            outputs=outcome.outputs,
            reports=[_relative(p) for p in reports.with_assets(outcome.reports)],
            junit=_relative(outcome.junit) if outcome.junit else None,
        )
    except MlciError as err:
        # The summary is printed once, by whoever reports the outcome (run_step, `mlci run`,
        # the Groovy step); the further lines only here.
        result.update(exitCode=err.exit_code, summary=str(err))
        result["service"] = getattr(err, "service", None)
        for line in err.details:
            log.error(line)
    except KeyboardInterrupt:
        result.update(exitCode=3, summary="interrupted")
    except Exception as err:  # the last line of defence: a crash is exit 3, never a pass
        log.raw(traceback.format_exc())
        result.update(
            exitCode=3,
            summary=f"unexpected {type(err).__name__} in mlci {command} (traceback in the log)",
        )
    result["durationSeconds"] = round(time.monotonic() - started, 3)
    if ctx is not None and ctx.config.monitoring.pushgateway_url:
        from mlci.monitoring import pipeline

        gateway = ctx.config.monitoring.pushgateway_url
        pipeline.push(gateway, command, ctx.config.model.name, result["status"], result["durationSeconds"])
    return result["exitCode"], log.redact_data(result)


def writable_result(path: str) -> None:
    """Refuse a result path that is a directory, under a file, or not writable."""
    target = Path(path)
    what = f"--result {path}"
    if target.is_dir():
        raise InputError(f"{what}: is a directory; name a file")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        probe = target.with_name(target.name + ".tmp")
        probe.write_text("", encoding="utf-8")
        probe.unlink()
    except (FileExistsError, NotADirectoryError):
        raise InputError(f"{what}: a part of the path is a file, not a directory") from None
    except ValueError:
        raise InputError(f"{what}: not a file name: it holds a NUL byte") from None
    except OSError as err:
        raise InputError(f"{what}: cannot write there: {err.strerror or err}") from None


def write_result(path: str, result: dict[str, Any]) -> None:
    masking.write_json(Path(path), result)  # masked, and never half-written for Groovy to read


def run_step(
    command: str,
    params: dict[str, Any] | None,
    params_file: str | None,
    result_file: str | None,
    flags: dict[str, Any] | None = None,
) -> tuple[int, dict[str, Any]]:
    """A step as the CLI runs it: execute, write the result file, log the outcome. A result
    path that cannot be written is refused before the step runs (exit 2, nothing done)."""
    if result_file:
        writable_result(result_file)
    code, result = execute(command, params, params_file, flags=flags)
    if result_file:
        try:
            write_result(result_file, result)
        except OSError as err:  # it was writable a moment ago: the disk filled, or someone changed it
            raise InputError(f"--result {result_file}: cannot write the result: {err.strerror or err}") from None
    if code != EXIT_PASSED and result_file and os.environ.get("MLCI_RESULT") == result_file:
        # Run by the Jenkins step (it sets MLCI_RESULT): it prints this summary as the step's
        # error; a second copy here would only repeat it.
        return code, result
    status = {0: "passed", 1: "FAILED", 2: "bad input"}.get(code, "error")
    log.info(f"{command} {status}: {result['summary']}")
    return code, result
