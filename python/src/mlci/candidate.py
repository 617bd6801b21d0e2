"""The candidate: the training run the later gate steps act on.

`mlci train` records its run here (`reports/train/candidate.json`, in the workspace every
stage shares, locally and in Jenkins); `validate` and `register` use it unless given `runId`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlci import bounded, contracts, masking
from mlci.errors import InputError

FILE = Path("reports") / "train" / "candidate.json"


def record(project_dir: Path, run_id: str, model_uri: str, tracking_uri: str) -> Path:
    path = project_dir / FILE
    return masking.write_json(path, {"runId": run_id, "modelUri": model_uri, "trackingUri": tracking_uri})


def run_id(ctx: Any) -> str:
    """`runId` when given, else the run the last `mlci train` in this workspace recorded."""
    given = ctx.options.get("runId")
    if given:
        return str(given)
    path = ctx.project_dir / FILE
    try:
        data = bounded.json_loads(bounded.read_text(path, str(path), bounded.MAX_CONFIG_BYTES), str(path))
    except FileNotFoundError:
        raise InputError(f"runId: not given, and no {path} from an earlier `mlci train`; pass runId") from None
    except OSError as err:
        raise InputError(f"{path}: unreadable candidate record: {err.strerror or err}; pass runId") from None
    if not isinstance(data, dict) or not isinstance(data.get("runId"), str):
        raise InputError(f"{path}: no runId in the candidate record; pass runId")
    problem = contracts.format_error(data["runId"], "runId")
    if problem:
        raise InputError(f"{path} runId: {problem}")
    return str(data["runId"])
