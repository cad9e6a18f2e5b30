"""`vtrax bench learning`: train N seeds one after another, then draw their curves and summarise them.

Each seed runs `vtrax train --preset P --env E --seed S --max-seconds N --quiet`
as a child process (with `--lock FILE`, under `flock FILE`, so that only one heavy
job runs at a time on a shared machine). The run directories stay under
`--out DIR/runs`; `DIR/curve.png` holds the band (median, min-max over seeds)
against env frames and wall time, and `DIR/summary.json` per seed: the final
mean return of the last 100 episodes, the return at fixed frame counts (quarters
of `--max-env-frames`, else of the shortest seed's frames), wall time and
frames/s, with their medians.

`--games Breakout,Asterix,...` runs each game's seeds in turn (game after game),
into `DIR/<game>/` each, and writes `DIR/summary.json` with every game's figures
and one table. With `--preset minatar` a bare name means `MinAtar/<Game>-v1`.
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
    parser.add_argument("--games", default=None, metavar="G1,G2,...",
                        help="Several environments in turn, comma-separated (with --preset minatar: Breakout means "
                             "MinAtar/Breakout-v1; `all`: the five MinAtar games).")
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


MINATAR_GAMES = ("Asterix", "Breakout", "Freeway", "Seaquest", "SpaceInvaders")


def game_env_ids(games: str, preset: str) -> list[str]:
    """`--games` as env ids: comma-separated names; with the minatar preset `Breakout` -> `MinAtar/Breakout-v1`.

    Raises:
      ValueError: an empty list, or `all` with a preset other than minatar.
    """
    names = [name.strip() for name in games.split(",") if name.strip()]
    if names == ["all"]:
        if preset != "minatar":
            raise ValueError(f"--games all means the five MinAtar games; pass --preset minatar, or name the "
                             f"environments of preset {preset!r}")
        names = list(MINATAR_GAMES)
    if not names:
        raise ValueError("--games is empty; pass names like Breakout,Asterix (or env ids), comma-separated")
    if preset == "minatar":
        return [name if "/" in name else f"MinAtar/{name}-v1" for name in names]
    return names


def summarise(run_dirs: list[Path], max_env_frames: int = 0) -> dict:
    """Per-seed and median figures of finished runs (see the module docstring)."""
    from vtrax.deploy.bench.curves import final_return, read_run, return_at

    curves = [read_run(path) for path in run_dirs]
    shortest = min(float(curve.x["env_frames"][-1]) for curve in curves)
    checkpoints = [int((max_env_frames or shortest) * fraction) for fraction in FRAME_FRACTIONS]
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
    if args.games and args.env:
        print("vtrax bench learning: pass --env for one environment or --games for several, not both",
              file=sys.stderr)
        return 2
    try:
        env_ids = game_env_ids(args.games, args.preset) if args.games else None
    except ValueError as error:
        print(f"vtrax bench learning: {error}", file=sys.stderr)
        return 2
    out = Path(args.out or f"bench-learning/{args.preset}-{time.strftime('%Y%m%d-%H%M%S')}")
    extra = [flag for flag in args.extra if flag != "--"]
    from vtrax.deploy.bench.curves import CurveError

    try:
        if env_ids is None:
            return _print(args, _run_seeds(args, out, extra))
        results = {env_id: _run_seeds(argparse.Namespace(**{**vars(args), "env": env_id}),
                                      out / env_id.split("/")[-1], extra) for env_id in env_ids}
        return _print_games(args, out, results)
    except (SeedFailed, CurveError) as error:
        print(f"vtrax bench learning: {error}", file=sys.stderr)
        return 1


def _run_seeds(args: argparse.Namespace, out: Path, extra: list[str]) -> dict:
    """Train the seeds of one environment into `out/runs`; returns (and writes) its summary with the curve."""
    logdir = out / "runs"
    logdir.mkdir(parents=True, exist_ok=True)
    run_dirs = [run_seed(train_command(args, seed, logdir, extra), seed, logdir) for seed in range(args.seeds)]
    return _summary(args, out, run_dirs, extra)


def _summary(args: argparse.Namespace, out: Path, run_dirs: list[Path], extra: list[str]) -> dict:
    from vtrax.deploy.bench.curves import group_runs, read_run
    from vtrax.deploy.bench.plot_curves import draw

    result = {"preset": args.preset, "env": args.env, "extra_flags": extra, "seeds": args.seeds,
              "max_seconds": args.max_seconds, "max_env_frames": args.max_env_frames,
              "machine": machine_description(), "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
              **summarise(run_dirs, args.max_env_frames)}
    picture = draw(group_runs([read_run(path) for path in run_dirs]), out / "curve.png",
                   title=f"{args.env or args.preset} {' '.join(extra)}".strip())
    result["curve_png"] = str(picture)
    (out / "summary.json").write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    result["summary_json"] = str(out / "summary.json")
    return result


def _print(args: argparse.Namespace, result: dict) -> int:
    rows = [[run["seed"], run["final_return"], run["env_frames"], run["wall_seconds"], run["frames_per_second"],
             run["stopped_because"]] for run in result["runs"]]
    table = format_table(["seed", "final return", "env frames", "wall s", "frames/s", "stopped"], rows)
    table += (f"\nmedian final return {result['median_final_return']:.2f} (min {result['min_final_return']:.2f}, "
              f"max {result['max_final_return']:.2f}); {result['curve_png']}; {result['summary_json']}; "
              f"{result['machine']}")
    print_result(result, as_json=args.json, table=table)
    return 0


def _print_games(args: argparse.Namespace, out: Path, results: dict[str, dict]) -> int:
    """One row per game (medians over seeds), and DIR/summary.json holding every game's summary."""
    combined = {"preset": args.preset, "games": results, "machine": machine_description(),
                "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    (out / "summary.json").write_text(json.dumps(combined, indent=2, sort_keys=True) + "\n")
    rows = [[env_id, result["median_final_return"], f"{result['min_final_return']:.2f}–{result['max_final_return']:.2f}",
             result["median_env_frames"], result["median_wall_seconds"], result["median_frames_per_second"],
             result["curve_png"]] for env_id, result in results.items()]
    table = format_table(["game", "median final return", "range", "env frames", "wall s", "frames/s", "curve"], rows)
    table += f"\n{len(results)} games x {args.seeds} seeds; {out / 'summary.json'}; {combined['machine']}"
    print_result(combined, as_json=args.json, table=table)
    return 0
