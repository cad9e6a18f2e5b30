"""A run's progress as its files tell it: progress.json, summary.json, metrics.jsonl.

`vtrax train` rewrites progress.json every report, appends one line to metrics.jsonl
and writes summary.json once at the end (see deploy/runtime/run_dir.py). The service only
reads them, so it can run beside a live run, after it, or on another machine that
shares the directory.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any, Iterator

# No report for this long (and no summary) means the run is probably gone.
STALLED_AFTER_S = 60.0


def run_state(run_dir: Path | None, *, now: float | None = None) -> str:
    """'checkpoint_only', 'starting', 'running', 'stalled' or 'finished' (see the proto)."""
    if run_dir is None:
        return "checkpoint_only"
    now = time.time() if now is None else now
    progress, summary = run_dir / "progress.json", run_dir / "summary.json"
    progress_time = progress.stat().st_mtime if progress.exists() else None
    if summary.exists() and (progress_time is None or summary.stat().st_mtime >= progress_time):
        return "finished"  # NOTE: a resumed run rewrites progress.json after the old summary
    if progress_time is None:
        return "starting"
    return "running" if now - progress_time <= STALLED_AFTER_S else "stalled"


def read_run_status(run_dir: Path | None) -> dict[str, Any]:
    """Counters of the run at its last report, for GetStatus.

    Returns:
      dict with run_state, env_frames, learner_updates, wall_seconds,
      episode_return_mean_last100 (None when no episode ended yet),
      stopped_because ('' unless finished) and seconds_since_report (-1 if none).
    """
    state = run_state(run_dir)
    status: dict[str, Any] = {"run_state": state, "env_frames": 0, "learner_updates": 0, "wall_seconds": 0.0,
                              "episode_return_mean_last100": None, "stopped_because": "",
                              "seconds_since_report": -1.0}
    if run_dir is None:
        return status
    progress = _read_json(run_dir / "progress.json")
    if progress:
        returns = progress.get("last_returns") or []
        status.update(env_frames=int(progress.get("env_frames", 0)),
                      learner_updates=int(progress.get("learner_updates", 0)),
                      wall_seconds=float(progress.get("wall_seconds", 0.0)),
                      episode_return_mean_last100=sum(returns) / len(returns) if returns else None,
                      seconds_since_report=max(time.time() - (run_dir / "progress.json").stat().st_mtime, 0.0))
    if state == "finished":
        summary = _read_json(run_dir / "summary.json") or {}
        status["stopped_because"] = str(summary.get("stopped_because", ""))
    return status


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):  # missing, or caught mid-replace on a filesystem without atomic rename
        return None


def flatten_numbers(report: dict[str, Any], prefix: str = "") -> dict[str, float]:
    """Every finite int/float of a (nested) report, keys joined with '/': {'loss/pg': 0.1, ...}."""
    flat: dict[str, float] = {}
    for key, value in report.items():
        if isinstance(value, dict):
            flat.update(flatten_numbers(value, f"{prefix}{key}/"))
        elif isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            flat[prefix + key] = float(value)
    return flat


class MetricsTail:
    """Reads metrics.jsonl incrementally: complete lines only, each with its 0-based sequence number.

    Args:
      path: the run's metrics.jsonl (it may not exist yet).
      from_start: False skips every existing report except the newest.
    """

    def __init__(self, path: Path, *, from_start: bool):
        self._path = path
        self._offset = 0
        self._sequence = 0
        self._partial = b""
        self._skip_to_newest = not from_start

    def read_new(self) -> Iterator[tuple[int, dict[str, Any]]]:
        """(sequence, report) for every line completed since the last call."""
        if not self._path.exists():
            return
        with open(self._path, "rb") as file:
            file.seek(self._offset)
            chunk = file.read()
        self._offset += len(chunk)
        lines = (self._partial + chunk).split(b"\n")
        self._partial = lines.pop()  # an unfinished last line waits for its newline
        reports = []
        for line in lines:
            if line.strip():
                try:
                    reports.append((self._sequence, json.loads(line)))
                except ValueError:
                    pass  # a corrupt line is skipped, but still counted
                self._sequence += 1
        if self._skip_to_newest:
            self._skip_to_newest = False
            reports = reports[-1:]
        yield from reports
