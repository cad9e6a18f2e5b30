"""Learning curves from run directories: read metrics.jsonl, group seeds, resample, aggregate.

Pure numpy; drawing lives in `plot_curves.py` (matplotlib, imported only there).

A run's curve is the `episode_return_mean_last100` of each metrics.jsonl row
against `env_frames` or `wall_seconds`. Runs whose config.json differs only in
the seed form one configuration; its band is the median and the min-max over
seeds, on a common x grid that ends where the shortest seed ends (so every
point of the band has every seed behind it).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import NamedTuple

import numpy as np

X_AXES = ("env_frames", "wall_seconds")
RETURN_FIELD = "episode_return_mean_last100"
SEED_FIELDS = ("seed",)
GRID_POINTS = 200


class CurveError(ValueError):
    """A run directory that holds no learning curve; the message says which and why."""


class RunCurve(NamedTuple):
    """One run: x values per axis [N] and the mean return of the last 100 episodes [N]."""

    run_dir: str
    config: dict
    x: dict  # axis name -> float [N]
    returns: np.ndarray  # float [N]


class Band(NamedTuple):
    """Several seeds of one configuration on one x axis: grid [G], median [G], low [G], high [G]."""

    label: str
    seeds: int
    grid: np.ndarray
    median: np.ndarray
    low: np.ndarray
    high: np.ndarray


def read_run(run_dir: str | Path) -> RunCurve:
    """The curve of one run directory (rows before the first finished episode are dropped).

    Raises:
      CurveError: no metrics.jsonl, or not one row with a return in it.
    """
    path = Path(run_dir)
    metrics = path / "metrics.jsonl"
    if not metrics.is_file():
        raise CurveError(f"{path} has no metrics.jsonl; pass run directories written by `vtrax train`")
    rows = [json.loads(line) for line in metrics.read_text().splitlines() if line.strip()]
    rows = [row for row in rows if row.get(RETURN_FIELD) is not None]
    if not rows:
        raise CurveError(f"{metrics} has no row with a finished episode yet; let the run train longer")
    config_path = path / "config.json"
    config = json.loads(config_path.read_text()) if config_path.is_file() else {}
    x = {axis: np.asarray([row[axis] for row in rows], np.float64) for axis in X_AXES}
    return RunCurve(str(path), config, x, np.asarray([row[RETURN_FIELD] for row in rows], np.float64))


def configuration_key(config: dict) -> str:
    """The config without its seeds and stop limits: runs with equal keys are seeds of one configuration."""
    stripped = {key: value for key, value in config.items()
                if key not in SEED_FIELDS + ("max_seconds", "max_env_frames")}
    stripped["learner"] = {key: value for key, value in config.get("learner", {}).items() if key != "seed"}
    return json.dumps(stripped, sort_keys=True)


def configuration_label(config: dict) -> str:
    """A short legend label: env id, network, and '+ LSTM' for recurrent runs."""
    label = f"{config.get('env_id', '?')} {config.get('network', '?')}"
    return label + (" + LSTM" if config.get("use_lstm") else "")


def group_runs(curves: list[RunCurve]) -> dict[str, list[RunCurve]]:
    """Label -> the runs of that configuration, in the order given; equal labels of different configs get a #n."""
    groups: dict[str, list[RunCurve]] = {}
    labels: dict[str, str] = {}
    for curve in curves:
        key = configuration_key(curve.config)
        if key not in labels:
            base = configuration_label(curve.config)
            taken = sum(1 for label in labels.values() if label.split(" #")[0] == base)
            labels[key] = base if not taken else f"{base} #{taken + 1}"
        groups.setdefault(labels[key], []).append(curve)
    return groups


def band(label: str, curves: list[RunCurve], axis: str, *, points: int = GRID_POINTS) -> Band:
    """Median and min-max over `curves` on `axis`, each seed's curve linearly interpolated onto one grid.

    The grid runs from the latest first point to the earliest last point over the seeds.
    """
    if axis not in X_AXES:
        raise ValueError(f"axis must be one of {X_AXES}, got {axis!r}")
    start = max(float(curve.x[axis][0]) for curve in curves)
    stop = min(float(curve.x[axis][-1]) for curve in curves)
    grid = np.linspace(start, max(start, stop), points)  # [G]
    values = np.stack([np.interp(grid, curve.x[axis], curve.returns) for curve in curves])  # [S, G]
    return Band(label, len(curves), grid, np.median(values, axis=0), values.min(axis=0), values.max(axis=0))


def final_return(curve: RunCurve) -> float:
    """The last reported mean return of the last 100 episodes."""
    return float(curve.returns[-1])


def return_at(curve: RunCurve, env_frames: float) -> float | None:
    """The mean return of the last 100 episodes at `env_frames` (interpolated; None past the run's end)."""
    frames = curve.x["env_frames"]
    if env_frames > frames[-1] or env_frames < frames[0]:
        return None
    return float(np.interp(env_frames, frames, curve.returns))
