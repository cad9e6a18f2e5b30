"""Losing a node: a real two-node Ray cluster on loopback, one node SIGKILLed under a `vtrax train --address` run.

    head    127.0.0.1  2 CPUs: the learner and actor 1 (and the driver, the Reverb server)
    worker  127.0.0.2  1 CPU:  actor 0          ── SIGKILL of every process of it (raylet, agents, workers)
    rejoin  127.0.0.3  1 CPU:  actor 0 again, restarted there by Ray

Placement comes from Ray's CPU accounting: the run asks for 3 CPUs (a learner and 2 actors) and the
cluster has 3, so exactly one role runs on the worker; Ray's default (hybrid) policy keeps the learner,
created first, on the driver's own node, and the test checks that the worker's role is an actor.
Every process of a node carries a tag of its own (VTRAX_TEST_TAG; Ray passes its environment to the
workers it starts), which is how the test kills one node and cleans up after itself: never `ray stop`
(vtrax/deploy/bench/loopback_cluster.py, which `vtrax bench chaos --faults node` uses too).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from vtrax.deploy.bench.loopback_cluster import RAY_CLI, TAG_VARIABLE, LoopbackCluster, tagged

TAG = f"node-loss-{os.getpid()}"
MAX_SECONDS = 75

pytestmark = [pytest.mark.timeout(180),
              pytest.mark.skipif(not RAY_CLI.exists(), reason=f"no `ray` command beside {sys.executable}")]


def _wait_for(predicate, timeout_s: float, what: str, log: Path | None = None):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(0.5)
    tail = log.read_text()[-3000:] if log and log.exists() else ""
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}\n{tail}")


def _progress(logdir: Path) -> dict | None:
    run_dir = next(logdir.glob("CartPole-v1-*"), None)
    with contextlib.suppress(OSError, ValueError, TypeError):
        return json.loads((run_dir / "progress.json").read_text())
    return None


def _roles(processes: list[psutil.Process]) -> list[str]:
    names = []
    for process in processes:
        with contextlib.suppress(psutil.Error):
            names.append(" ".join(process.cmdline()))
    return [name for name in names if name.startswith("ray::")]


def test_losing_a_node_keeps_the_run_going_and_its_actor_comes_back_on_a_node_that_joins(tmp_path):
    """Also what joining an existing cluster must do: both actors on its 3 CPUs (1 for the learner), the
    cluster left running at the end, and a private local-default run beside it."""
    log = tmp_path / "train.log"
    cluster = LoopbackCluster(TAG, head_cpus=2)
    port, driver_tag = cluster.port, cluster.tag("driver")
    train = None
    try:
        cluster.add_node("worker", "127.0.0.2", num_cpus=1)
        with open(log, "w") as out:
            train = subprocess.Popen(
                [sys.executable, "-m", "vtrax.deploy.cli", "train", "--preset", "cartpole", "--address",
                 f"127.0.0.1:{port}", "--num-actors", "2", "--stop-at-target", "false", "--max-seconds",
                 str(MAX_SECONDS), "--report-period-s", "0.5", "--logdir", str(tmp_path / "runs")],
                stdout=out, stderr=subprocess.STDOUT, text=True, env=dict(os.environ, **{TAG_VARIABLE: driver_tag}))
        started = time.monotonic()
        before = _wait_for(lambda: (p := _progress(tmp_path / "runs")) and p["env_frames"] > 2000
                           and all(p["actor_pids"]) and p, 60, "frames from both actors", log)
        worker = tagged(cluster.tag("worker"))
        roles = _roles(worker)
        assert any(p.name() == "raylet" for p in worker), "the worker node has no raylet"
        assert any("ActorWorker" in role for role in roles) and not any("Learner" in role for role in roles), \
            f"the worker node should run exactly one actor, it runs {roles}"
        lost_pid = next(p.pid for p in worker if "ActorWorker" in " ".join(p.cmdline()))
        lost_index = before["actor_pids"].index(lost_pid)

        killed = cluster.kill_node("worker")
        assert not any(psutil.pid_exists(p.pid) and p.is_running() for p in killed), "a killed process lingers"
        assert not tagged(cluster.tag("worker")), "a process of the killed node lingers"

        _wait_for(lambda: "lost Ray node 127.0.0.2" in log.read_text(), 30, "the run to notice the lost node", log)
        gone = _wait_for(lambda: (p := _progress(tmp_path / "runs")) and p["nodes_lost"] == 1 and p["num_actors"] == 1
                         and p, 20, "the lost actor to count as gone (silent for 15 s)", log)
        _wait_for(lambda: (p := _progress(tmp_path / "runs")) and p["env_frames"] > gone["env_frames"] + 2000, 20,
                  "frames from the actor that remains, with the worker node gone", log)

        cluster.add_node("rejoin", "127.0.0.3", num_cpus=1)
        back = _wait_for(lambda: (p := _progress(tmp_path / "runs")) and p["actor_restarts"] >= 1 and p, 40,
                         "Ray to restart the lost actor on the node that joined", log)
        assert back["actor_pids"][lost_index] != lost_pid
        assert any("ActorWorker" in role for role in _roles(tagged(cluster.tag("rejoin")))), "the actor did not move there"
        assert re.search(rf"actor {lost_index} was restarted by Ray \(pid {lost_pid} -> \d+\)", log.read_text())
        _wait_for(lambda: (p := _progress(tmp_path / "runs")) and p["num_actors"] == 2
                  and p["actor_param_versions"][lost_index] > 0, 20, "the restarted actor to act again", log)

        assert train.wait(timeout=max(MAX_SECONDS + 30 - (time.monotonic() - started), 5)) == 0, \
            log.read_text()[-3000:]
        summary = json.loads(next((tmp_path / "runs").glob("CartPole-v1-*/summary.json")).read_text())
        assert summary["stopped_because"] == "max_seconds"
        assert summary["nodes_lost"] == 1 and summary["actor_restarts"] == 1, summary
        assert summary["learner_restarts"] == 0 and summary["env_frames"] > back["env_frames"], summary
        assert not tagged(driver_tag), "the run left a process behind"
        socket.create_connection(("127.0.0.1", port), timeout=5).close()  # raises if the run stopped the cluster

        # The local default starts a private Ray beside a running cluster (README), and leaves that cluster be.
        private = subprocess.run(
            [sys.executable, "-m", "vtrax.deploy.cli", "train", "--preset", "cartpole", "--max-env-frames", "2000",
             "--max-seconds", "60", "--stop-at-target", "false", "--logdir", str(tmp_path / "private")],
            capture_output=True, text=True, timeout=120, env=dict(os.environ, **{TAG_VARIABLE: driver_tag}))
        assert private.returncode == 0, "the local default must start its own Ray beside a running one:\n" + (
            private.stdout + private.stderr)
        assert not tagged(driver_tag), "the private run left a process behind"
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
    finally:
        if train is not None and train.poll() is None:
            train.kill()
        cluster.stop()
