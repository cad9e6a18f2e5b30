"""The run directory: resolved config, metrics.jsonl, TensorBoard events, checkpoints, summary.

    RUN_DIR/
      config.json        the resolved TrainConfig (what --resume reads back)
      metrics.jsonl      one JSON object per report
      events.out.tfevents.*   TensorBoard scalars (same numbers as metrics.jsonl)
      progress.json      counters at the last report (what --resume continues from without a manifest)
      manifest.json      the learner + replay checkpoints and counters that belong together (runtime/manifest.py)
      checkpoints/       the learner's checkpoints
      replay/            dqn, r2d2: the replay table's checkpoints and layout (runtime/replay_checkpoints.py)
      summary.json       written once at the end, whatever stopped the run
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any


def new_run_dir(base: str | os.PathLike, env_id: str) -> Path:
    """A fresh directory under `base` named after the environment and the start time."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    name = env_id.replace("/", "_")
    path = Path(base) / f"{name}-{stamp}"
    suffix = 1
    while path.exists():
        path = Path(base) / f"{name}-{stamp}-{suffix}"
        suffix += 1
    path.mkdir(parents=True)
    return path


def write_json_atomic(path: Path, value: Any) -> None:
    """Write then rename, so a reader never sees half a file."""
    temporary = path.with_suffix(path.suffix + ".tmp")
    temporary.write_text(json.dumps(value, indent=2, sort_keys=True, default=_jsonable) + "\n")
    os.replace(temporary, path)


def read_json(path: Path) -> Any:
    return json.loads(Path(path).read_text())


class RunWriter:
    """Appends reports to metrics.jsonl and TensorBoard; owns the files, nothing else."""

    def __init__(self, run_dir: Path):
        self.run_dir = Path(run_dir)
        self._jsonl = open(self.run_dir / "metrics.jsonl", "a", buffering=1)
        try:
            from tensorboardX import SummaryWriter

            self._tensorboard = SummaryWriter(str(self.run_dir), flush_secs=5)
        except ImportError:  # pragma: no cover - tensorboardX is a pinned dependency
            self._tensorboard = None

    def write(self, report: dict[str, Any]) -> None:
        self._jsonl.write(json.dumps(report, sort_keys=True, default=_jsonable) + "\n")
        if self._tensorboard is not None:
            step = int(report.get("env_frames", 0))
            for key, value in _flatten(report).items():
                if isinstance(value, (int, float)) and value is not None:
                    self._tensorboard.add_scalar(key, value, step)

    def close(self) -> None:
        self._jsonl.close()
        if self._tensorboard is not None:
            self._tensorboard.close()


def _flatten(report: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat = {}
    for key, value in report.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}/"))
        else:
            flat[prefix + key] = value
    return flat


def _jsonable(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)
