"""`vtrax bench e2e`: time-to-target, throughput and peak memory of real `vtrax train` runs.

Each seed runs `vtrax train --preset P --seed S --stop-at-target --quiet` as a child
process. Seconds to target count from the moment the child is spawned (interpreter
start, Ray, Reverb and compilation included). Peak PSS is the largest sum, over the
whole process tree (driver, Ray's daemons and workers, Reverb), sampled every 0.5 s.
Each seed's run directory is removed after it is read, unless `--logdir DIR` keeps it.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

from vtrax.deploy.bench.tools import format_table, machine_description, print_result


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--preset", default="cartpole", help="Training preset (default cartpole).")
    parser.add_argument("--seeds", type=int, default=3, help="Runs, seeds 0..N-1 (default 3).")
    parser.add_argument("--max-seconds", type=float, default=120.0, help="Give up on a seed after this long.")
    parser.add_argument("--logdir", default=None, metavar="DIR",
                        help="Keep each seed's run directory under DIR (default: a temporary one, removed).")
    parser.add_argument("--json", action="store_true", help="Print one JSON object.")
    parser.add_argument("extra", nargs=argparse.REMAINDER, help="Further `vtrax train` flags, after --.")


def _tree_pss_bytes(process) -> int:
    total = 0
    for member in [process, *process.children(recursive=True)]:
        try:
            total += member.memory_full_info().pss
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            pass
    return total


class SeedFailed(RuntimeError):
    """`vtrax train` failed for one seed; the message holds its exit code and its last output line."""


def run_seed(preset: str, seed: int, max_seconds: float, extra: list[str], keep_under: str | None = None) -> dict:
    """One seed's figures; its run directory is removed afterwards unless `keep_under` names where to keep it.

    Raises:
      SeedFailed: the child exited non-zero or wrote no summary.json.
    """
    logdir = tempfile.mkdtemp(prefix=f"vtrax-bench-e2e-seed{seed}-", dir=keep_under)
    try:
        return _train_and_read(preset, seed, max_seconds, extra, logdir)
    finally:
        if keep_under is None:
            shutil.rmtree(logdir, ignore_errors=True)


def _train_and_read(preset: str, seed: int, max_seconds: float, extra: list[str], logdir: str) -> dict:
    command = [sys.executable, "-m", "vtrax.deploy.cli", "train", "--preset", preset, "--seed", str(seed),
               "--stop-at-target", "--max-seconds", str(max_seconds), "--quiet", "--logdir", logdir, *extra]
    spawned = time.time()
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    process, peak = psutil.Process(child.pid), 0
    try:
        while child.poll() is None:
            peak = max(peak, _tree_pss_bytes(process))
            time.sleep(0.5)
    finally:
        if child.poll() is None:  # NOTE: interrupted: stop the run (SIGTERM: it cleans up) before its directory goes
            child.terminate()
            try:
                child.wait(timeout=60)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
    output = child.stdout.read()
    summaries = list(Path(logdir).glob("*/summary.json"))
    if child.returncode != 0 or not summaries:
        last = (output.strip().splitlines() or ["(no output)"])[-1]
        raise SeedFailed(f"seed {seed}: `vtrax train` exited {child.returncode}: {last}")
    summary = json.loads(summaries[0].read_text())
    offset = summary.get("start_epoch", spawned) - spawned  # interpreter start before the command's clock
    to_target = summary["seconds_to_target"]
    return {"seed": seed, "seconds_to_target": None if to_target is None else to_target + offset,
            "frames_to_target": summary["frames_to_target"], "frames_per_second": summary["frames_per_second"],
            "startup_seconds": summary.get("startup_seconds", 0.0) + offset,
            "peak_pss_gib": peak / 2**30, "stopped_because": summary["stopped_because"]}


def run(args: argparse.Namespace) -> int:
    extra = [flag for flag in args.extra if flag != "--"]
    try:
        runs = [run_seed(args.preset, seed, args.max_seconds, extra, args.logdir) for seed in range(args.seeds)]
    except SeedFailed as error:
        print(f"vtrax bench e2e: {error}", file=sys.stderr)
        return 1
    reached = [r["seconds_to_target"] for r in runs if r["seconds_to_target"] is not None]
    result = {
        "preset": args.preset, "machine": machine_description(), "runs": runs,
        "seeds_reaching_target": len(reached),
        "median_seconds_to_target": statistics.median(reached) if reached else None,
        "median_frames_per_second": statistics.median(r["frames_per_second"] for r in runs),
        "median_startup_seconds": statistics.median(r["startup_seconds"] for r in runs),
        "peak_pss_gib": max(r["peak_pss_gib"] for r in runs),
    }
    rows = [[r["seed"], r["seconds_to_target"], r["frames_to_target"], r["frames_per_second"],
             r["startup_seconds"], r["peak_pss_gib"], r["stopped_because"]] for r in runs]
    table = format_table(["seed", "s to target", "frames to target", "frames/s", "startup s", "peak PSS GiB",
                          "stopped"], rows)
    median = result["median_seconds_to_target"]
    table += (f"\n{len(reached)}/{len(runs)} seeds reached the target; median "
              f"{'n/a' if median is None else f'{median:.1f} s'}; {result['machine']}")
    print_result(result, as_json=args.json, table=table)
    return 0
