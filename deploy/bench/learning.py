"""`vtrax bench learning`: train N seeds one after another, then draw their curves and summarise them.

Each seed runs `vtrax train --preset P --env E --seed S --max-seconds N --quiet`
as a child process (with `--lock FILE`, under `flock FILE`, so that only one heavy
job runs at a time on a shared machine). The run directories stay under
`--out DIR/runs`; `DIR/curve.png` holds the band (median, min-max over seeds)
against env frames and wall time, and `DIR/summary.json` per seed: the final
mean return of the last 100 episodes, the return at fixed frame counts, wall
time and frames/s, with their medians.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from vtrax.deploy.bench.tools import format_table, machine_description, print_result

FRAME_FRACTIONS = (0.25, 0.5, 0.75, 1.0)
"""Returns are reported at these fractions of the shortest seed's frames."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--preset", default="minatar", help="Training preset (default minatar).")
    parser.add_argument("--env", default=None, metavar="ENV_ID", help="Gymnasium id (default: the preset's).")
    parser.add_argument("--seeds", type=int, default=3, help="Runs, seeds 0..N-1, one after another (default 3).")
    parser.add_argument("--max-seconds", type=float, default=300.0, help="Wall-clock limit of each seed's run.")
    parser.add_argument("--max-env-frames", type=int, default=0, help="Frame limit of each seed's run (0: none).")
    parser.add_argument("--out", default=None, metavar="DIR",
                        help="Where runs/, curve.png and summary.json go (default: bench-learning/<preset>-<time>).")
    parser.add_argument("--lock", default=None, metavar="FILE",
                        help="Run each seed under `flock FILE` (one heavy job at a time on a shared machine).")
    parser.add_argument("--json", action="store_true", help="Print one JSON object.")
    parser.add_argument("extra", nargs=argparse.REMAINDER, help="Further `vtrax train` flags, after --.")


def train_command(args: argparse.Namespace, seed: int, logdir: Path, extra: list[str]) -> list[str]:
    """The child command line of one seed (flock-wrapped when `args.lock` is set)."""
    command = [sys.executable, "-m", "vtrax.deploy.cli", "train", "--preset", args.preset, "--seed", str(seed),
               "--max-seconds", str(args.max_seconds), "--max-env-frames", str(args.max_env_frames), "--quiet",
               "--logdir", str(logdir), *extra]
    if args.env:
        command += ["--env", args.env]
    return ["flock", args.lock, *command] if args.lock else command


class SeedFailed(RuntimeError):
    """`vtrax train` failed for one seed; the message holds its exit code and its last output line."""


def run_seed(command: list[str], seed: int, logdir: Path) -> Path:
    """Run one seed's training to its end; returns its run directory.

    Raises:
      SeedFailed: the child exited non-zero or wrote no summary.json.
    """
    before = set(logdir.glob("*/"))
    child = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    new = [path for path in logdir.glob("*/") if path not in before and (path / "summary.json").is_file()]
    if child.returncode != 0 or not new:
        last = (child.stdout.strip().splitlines() or ["(no output)"])[-1]
        raise SeedFailed(f"seed {seed}: `vtrax train` exited {child.returncode}: {last}")
    return new[0]


def summarise(run_dirs: list[Path]) -> dict:
    """Per-seed and median figures of finished runs (see the module docstring)."""
    from vtrax.deploy.bench.curves import final_return, read_run, return_at

    curves = [read_run(path) for path in run_dirs]
    shortest = min(float(curve.x["env_frames"][-1]) for curve in curves)
    checkpoints = [int(shortest * fraction) for fraction in FRAME_FRACTIONS]
    runs = []
    for path, curve in zip(run_dirs, curves):
        summary = json.loads((path / "summary.json").read_text())
        runs.append({"seed": curve.config.get("seed"), "run_dir": str(path), "final_return": final_return(curve),
                     "return_at_frames": {str(frames): return_at(curve, frames) for frames in checkpoints},
                     "env_frames": summary["env_frames"], "wall_seconds": summary["wall_seconds"],
                     "frames_per_second": summary["frames_per_second"],
                     "stopped_because": summary["stopped_because"]})
    median = lambda key: statistics.median(run[key] for run in runs)  # noqa: E731
    at_frames = {str(frames): statistics.median(run["return_at_frames"][str(frames)] for run in runs)
                 for frames in checkpoints}
    return {"runs": runs, "median_final_return": median("final_return"),
            "min_final_return": min(run["final_return"] for run in runs),
            "max_final_return": max(run["final_return"] for run in runs),
            "median_return_at_frames": at_frames, "median_env_frames": median("env_frames"),
            "median_frames_per_second": median("frames_per_second"), "median_wall_seconds": median("wall_seconds")}


def run(args: argparse.Namespace) -> int:
    if args.seeds < 1:
        print(f"vtrax bench learning: --seeds must be >= 1, got {args.seeds}", file=sys.stderr)
        return 2
    if args.lock and shutil.which("flock") is None:
        print("vtrax bench learning: --lock needs the `flock` command (util-linux); install it or drop --lock",
              file=sys.stderr)
        return 2
    out = Path(args.out or f"bench-learning/{args.preset}-{time.strftime('%Y%m%d-%H%M%S')}")
    logdir = out / "runs"
    logdir.mkdir(parents=True, exist_ok=True)
    extra = [flag for flag in args.extra if flag != "--"]
    from vtrax.deploy.bench.curves import CurveError

    try:
        run_dirs = [run_seed(train_command(args, seed, logdir, extra), seed, logdir) for seed in range(args.seeds)]
        return _report(args, out, run_dirs, extra)
    except (SeedFailed, CurveError) as error:
        print(f"vtrax bench learning: {error}", file=sys.stderr)
        return 1


def _report(args: argparse.Namespace, out: Path, run_dirs: list[Path], extra: list[str]) -> int:
    from vtrax.deploy.bench.curves import group_runs, read_run
    from vtrax.deploy.bench.plot_curves import draw

    result = {"preset": args.preset, "env": args.env, "extra_flags": extra, "seeds": args.seeds,
              "max_seconds": args.max_seconds, "max_env_frames": args.max_env_frames,
              "machine": machine_description(), "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
              **summarise(run_dirs)}
    picture = draw(group_runs([read_run(path) for path in run_dirs]), out / "curve.png",
                   title=f"{args.env or args.preset} {' '.join(extra)}".strip())
    result["curve_png"] = str(picture)
    (out / "summary.json").write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    rows = [[run["seed"], run["final_return"], run["env_frames"], run["wall_seconds"], run["frames_per_second"],
             run["stopped_because"]] for run in result["runs"]]
    table = format_table(["seed", "final return", "env frames", "wall s", "frames/s", "stopped"], rows)
    table += (f"\nmedian final return {result['median_final_return']:.2f} (min {result['min_final_return']:.2f}, "
              f"max {result['max_final_return']:.2f}); {picture}; {out / 'summary.json'}; {result['machine']}")
    print_result(result, as_json=args.json, table=table)
    return 0
