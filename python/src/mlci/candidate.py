"""The candidate: the training run the later gate steps act on.

`mlci train` records its run here (`reports/train/candidate.json`, in the workspace every
stage shares, locally and in Jenkins); `validate` and `register` use it unless given `runId`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mlci import masking
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
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"runId: not given, and no {path} from an earlier `mlci train`; pass runId") from None
    except (OSError, json.JSONDecodeError) as err:
        raise InputError(f"{path}: unreadable candidate record: {err}; pass runId") from None
    if not isinstance(data, dict) or not isinstance(data.get("runId"), str):
        raise InputError(f"{path}: no runId in the candidate record; pass runId")
    return str(data["runId"])
