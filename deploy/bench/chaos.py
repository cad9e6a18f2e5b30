"""`vtrax bench chaos`: SIGKILL roles of a real training run at seeded random times and time the recovery.

One `vtrax train --preset P` child runs (report period 0.5 s). After a warm-up (updates
flowing and a checkpoint on disk) the faults are injected one after another, each
after a seeded random wait, in a seeded random order:

    actor    SIGKILL of one actor process          Ray restarts it
    learner  SIGKILL of the learner process        Ray restarts it; it restores its checkpoint
    replay   SIGKILL of the Reverb server process  the driver restarts it on the same address
    driver   SIGKILL of the whole process tree     `vtrax train --resume RUN_DIR` continues
    node     SIGKILL of every process of a node    the run goes on with the head's actor; a node joins,
                                                   Ray restarts the lost actor there

With `node` among the faults the run spans two nodes: the bench starts a Ray
cluster on loopback (deploy/bench/loopback_cluster.py: head 127.0.0.1 with 2
CPUs for the learner and one actor, a node on 127.0.0.2 with 1 CPU for the
other actor) and trains with `--address` and `--num-actors 2`. After each node
kill, once the run counted the lost node, a new node joins on the next loopback
address; "actor back" is the time from its `ray start` until the run counted
the lost actor's restart.

Per fault it reports, from progress.json and metrics.jsonl: seconds until the driver
counted the restart (detect), until env frames and learner updates grew again, the
learner updates lost (updates at the kill minus those restored) and the replay items
lost (`replay_items_lost`: the whole queue for a table that is not checkpointed, the
run report's count after its newest checkpoint for one that is). At the end: whether the run still reached its target.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

from vtrax.deploy.bench.loopback_cluster import LoopbackCluster
from vtrax.deploy.bench.tools import format_table, machine_description, print_result

FAULTS = ("actor", "learner", "replay", "driver", "node")
POLL_S = 0.25


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--preset", default="cartpole", help="Training preset (default cartpole).")
    parser.add_argument("--faults", default=",".join(FAULTS[:4]),
                        help=f"Comma-separated, of {', '.join(FAULTS)} (default: all but node; node makes the run span "
                             "two Ray nodes on loopback addresses).")
    parser.add_argument("--repeats", type=int, default=2, help="Kills of each fault (default 2).")
    parser.add_argument("--seed", type=int, default=0, help="Seeds the order and the waits (default 0).")
    parser.add_argument("--wait-s", type=float, nargs=2, default=(5.0, 15.0), metavar=("MIN", "MAX"),
                        help="Random wait before each fault, seconds (default 5 15).")
    parser.add_argument("--recover-timeout-s", type=float, default=120.0,
                        help="Count a fault as not recovered after this long (default 120).")
    parser.add_argument("--settle-s", type=float, default=30.0, help="Train on after the last fault (default 30).")
    parser.add_argument("--logdir", default=None, metavar="DIR", help="Keep the run directory under DIR.")
    parser.add_argument("--json", action="store_true", help="Print one JSON object.")
    parser.add_argument("extra", nargs=argparse.REMAINDER, help="Further `vtrax train` flags, after --.")


class _Run:
    """The training child and its run directory; `restart_resumed` replaces the child after a driver kill."""

    def __init__(self, preset: str, logdir: Path, extra: list[str]):
        self.logdir, self.extra = logdir, extra
        self.child = self._spawn(["--preset", preset, "--logdir", str(logdir), "--stop-at-target", "false"])
        self.run_dir = _wait(lambda: next(logdir.glob("*-*"), None), 120, "the run directory")

    def _spawn(self, flags: list[str]) -> subprocess.Popen:
        command = [sys.executable, "-m", "vtrax.deploy.cli", "train", "--quiet", "--report-period-s", "0.5",
                   "--max-seconds", "0", *flags, *self.extra]
        return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                start_new_session=True)

    def progress(self) -> dict:
        try:
            return json.loads((self.run_dir / "progress.json").read_text())
        except (OSError, ValueError):
            return {}

    def last_report(self) -> dict:
        """The newest line of metrics.jsonl (the run report), or {} before the first."""
        try:
            return json.loads((self.run_dir / "metrics.jsonl").read_text().splitlines()[-1])
        except (OSError, ValueError, IndexError):
            return {}

    def tree(self) -> list[psutil.Process]:
        try:
            root = psutil.Process(self.child.pid)
            return [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def restart_resumed(self) -> None:
        self.child.wait(timeout=60)
        self.child = self._spawn(["--resume", str(self.run_dir)])

    def stop(self) -> dict:
        if self.child.poll() is None:
            self.child.send_signal(signal.SIGTERM)
            self.child.wait(timeout=180)
        return json.loads((self.run_dir / "summary.json").read_text())


def fault_schedule(faults: list[str], repeats: int, seed: int,
                   wait_range_s: tuple[float, float]) -> list[tuple[str, float]]:
    """(fault, seconds to wait before it) for each kill: each fault `repeats` times, order and waits seeded."""
    rng = random.Random(seed)
    order = list(faults) * repeats
    rng.shuffle(order)
    return [(fault, rng.uniform(*wait_range_s)) for fault in order]


def _wait(predicate, timeout_s: float, what: str):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(POLL_S)
    raise TimeoutError(f"vtrax bench chaos: no {what} within {timeout_s:.0f} s")


class _Nodes:
    """The loopback cluster of a run that spans two nodes: which node to kill next, and the ones that join."""

    def __init__(self):
        self.cluster = LoopbackCluster(f"vtrax-chaos-{os.getpid()}", head_cpus=2)
        self.joined = 0
        self.current = self._join()

    def flags(self) -> list[str]:
        return ["--address", self.cluster.address, "--num-actors", "2"]

    def kill(self) -> None:
        self.cluster.kill_node(self.current)

    def rejoin(self) -> None:
        self.current = self._join()

    def _join(self) -> str:
        self.joined += 1
        name = f"node-{self.joined}"
        self.cluster.add_node(name, f"127.0.0.{self.joined + 1}", num_cpus=1)
        return name


def _kill(run: _Run, fault: str, before: dict, nodes: _Nodes | None = None) -> None:
    if fault == "node":
        nodes.kill()
    elif fault == "actor":
        psutil.Process(before["actor_pids"][0]).kill()
    elif fault == "learner":
        psutil.Process(before["learner_pid"]).kill()
    elif fault == "replay":
        next(p for p in run.tree() if "vtrax.replay.server_main" in " ".join(p.cmdline())).kill()
    else:  # the driver and everything it started, at once
        for process in run.tree():
            try:
                process.kill()
            except psutil.NoSuchProcess:
                pass
        run.restart_resumed()


def _recovery(run: _Run, fault: str, before: dict, killed_at: float, timeout_s: float) -> dict:
    """Seconds to detection and to flowing frames/updates, and what was lost."""
    counter = {"actor": "actor_restarts", "learner": "learner_restarts", "replay": "replay_restarts",
               "node": "nodes_lost"}.get(fault)
    detect = frames = updates = None
    restored = None
    deadline = killed_at + timeout_s
    seen_version = before.get("param_version", 0)
    while time.monotonic() < deadline and (frames is None or updates is None):
        now = run.progress()
        elapsed = time.monotonic() - killed_at
        fresh = now.get("wall_seconds", 0) > before.get("wall_seconds", 0) + 0.4  # a report after the kill
        if fresh and restored is None and (counter is None or now.get(counter, 0) > before.get(counter, 0)):
            detect = elapsed if counter else None  # NOTE: a driver kill has no counter: recovery is the new run's
            restored = now.get("learner_updates")
        if restored is not None:
            if frames is None and now.get("env_frames", 0) > before["env_frames"] + 1000:
                frames = elapsed
            if updates is None and now.get("learner_updates", 0) > (restored or 0) \
                    and now.get("param_version", 0) != seen_version:
                updates = elapsed
        time.sleep(POLL_S)
    lost = None if restored is None else max(before["learner_updates"] - restored, 0)
    return {"fault": fault, "detect_s": detect, "frames_flow_s": frames, "updates_flow_s": updates,
            "updates_lost": lost, "replay_items_lost": replay_items_lost(fault, before["_report"], run.last_report()),
            "recovered": frames is not None and updates is not None, "actor_back_s": None}


def _rejoin(run: _Run, nodes: _Nodes, before: dict, timeout_s: float) -> float | None:
    """A node joins in place of the lost one; seconds until the run counted the lost actor's restart there."""
    joined_at = time.monotonic()
    nodes.rejoin()
    try:
        _wait(lambda: run.progress().get("actor_restarts", 0) > before.get("actor_restarts", 0), timeout_s,
              "restart of the lost actor on the node that joined")
    except TimeoutError:
        return None
    return time.monotonic() - joined_at


def replay_items_lost(fault: str, before: dict, after: dict) -> int | None:
    """Replay items a kill lost, from the run reports (metrics.jsonl lines) at the kill and after recovery.

    A table that is not checkpointed (IMPALA's queue: `replay_items_restored` None) restarts empty, so
    its whole queue is lost. A checkpointed one (dqn, r2d2) loses only what came after its newest
    checkpoint: the report's `replay_items_lost` counts that for a replay kill; after a driver kill the
    resumed run's `replay_items_restored` is what came back of the queue.
    """
    if fault not in ("replay", "driver"):
        return 0
    queue = before.get("replay_queue_size")
    if before.get("replay_items_restored") is None:
        return queue
    if fault == "replay":
        return max(int(after.get("replay_items_lost") or 0) - int(before.get("replay_items_lost") or 0), 0)
    restored = after.get("replay_items_restored")
    return None if queue is None or restored is None else max(queue - restored, 0)


def run(args: argparse.Namespace) -> int:
    faults = [name.strip() for name in args.faults.split(",") if name.strip()]
    unknown = sorted(set(faults) - set(FAULTS))
    if unknown or not faults:
        print(f"vtrax bench chaos: unknown faults {unknown}; choose from {', '.join(FAULTS)}", file=sys.stderr)
        return 2
    schedule = fault_schedule(faults, args.repeats, args.seed, tuple(args.wait_s))
    logdir = Path(tempfile.mkdtemp(prefix="vtrax-bench-chaos-", dir=args.logdir))
    extra = [flag for flag in args.extra if flag != "--"]
    nodes = run_ = None
    results = []
    try:
        nodes = _Nodes() if "node" in faults else None
        run_ = _Run(args.preset, logdir, extra + (nodes.flags() if nodes else []))
        _wait(lambda: run_.progress().get("learner_updates", 0) > 0 and list((run_.run_dir / "checkpoints")
                                                                             .glob("ckpt*")), 300, "warm-up")
        for fault, wait_s in schedule:
            time.sleep(wait_s)
            before = {**run_.progress(), "_report": run_.last_report()}
            killed_at = time.monotonic()
            _kill(run_, fault, before, nodes)
            results.append(_recovery(run_, fault, before, killed_at, args.recover_timeout_s))
            if fault == "node":
                results[-1]["actor_back_s"] = _rejoin(run_, nodes, before, args.recover_timeout_s)
                results[-1]["recovered"] = results[-1]["recovered"] and results[-1]["actor_back_s"] is not None
        time.sleep(args.settle_s)
        summary = run_.stop()
    finally:
        for process in run_.tree() if run_ else []:
            try:
                process.kill()
            except psutil.NoSuchProcess:
                pass
        if nodes is not None:
            nodes.cluster.stop()
        if args.logdir is None:
            shutil.rmtree(logdir, ignore_errors=True)
    target = summary.get("target_return")
    best = summary.get("best_episode_return_mean_last100")
    result = {"machine": machine_description(), "preset": args.preset, "seed": args.seed, "faults": results,
              "reached_target": bool(target is not None and best is not None and best >= target),
              "best_episode_return_mean_last100": best, "target_return": target,
              "learner_restarts": summary.get("learner_restarts"), "replay_restarts": summary.get("replay_restarts"),
              "actor_restarts": summary.get("actor_restarts"), "nodes_lost": summary.get("nodes_lost"),
              "stopped_because": summary.get("stopped_because")}
    rows = [[r["fault"], r["detect_s"], r["frames_flow_s"], r["updates_flow_s"], r["updates_lost"],
             r["replay_items_lost"], "n/a" if r["actor_back_s"] is None and r["fault"] != "node" else r["actor_back_s"],
             "yes" if r["recovered"] else "NO"] for r in results]
    table = format_table(["fault", "detect s", "frames flow s", "updates flow s", "updates lost", "items lost",
                          "actor back s", "recovered"], rows)
    table += (f"\nbest mean return {best if best is None else round(best, 1)} (target {target}): "
              f"{'reached' if result['reached_target'] else 'not reached'}; {machine_description()}")
    print_result(result, as_json=args.json, table=table)
    return 0 if all(r["recovered"] for r in results) else 1
