"""One short real `vtrax train` run, observed the three ways the issue asks for.

While it trains: Ray's Prometheus endpoint serves every metric the Grafana dashboard
queries, with sane values, and `vtrax status` reads the running job through Ray.
After Ctrl-C (SIGINT) stops it: `vtrax serve` answers Act for its CartPole checkpoint.
The run is stopped as soon as the observations are taken, to keep the suite short.
"""

import json
import math
import os
import re
import signal
import socket
import subprocess
import sys
import time
import types
import urllib.request
from pathlib import Path

import numpy as np
import psutil
import pytest
from prometheus_client.parser import text_string_to_metric_families

from vtrax.deploy.commands.status import format_status
from vtrax.deploy.runtime.report import RunReport

DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "monitoring" / "grafana" / "dashboards" / "vtrax.json"

VTRAX = [sys.executable, "-m", "vtrax.deploy.cli"]
STARTUP_BOUND_S = 240  # a bound on waiting (a loaded 2-core machine), not a speed assertion


def queried_metrics(dashboard: dict) -> set[str]:
    """The ray_vtrax_* metrics the dashboard's panels query (test_monitoring checks them against the run's)."""
    return {name for panel in dashboard["panels"] for target in panel["targets"]
            for name in re.findall(r"\bray_vtrax_\w+", target["expr"])}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _scrape(port: int) -> dict[str, list]:
    """metric name -> [(labels, value)] from Ray's Prometheus endpoint ({} while it is not up)."""
    try:
        text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    except OSError:
        return {}
    samples: dict[str, list] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append((sample.labels, sample.value))
    return samples


def _gcs_address(pid: int) -> str:
    """The GCS address of the Ray cluster that the `vtrax train` process `pid` started."""
    for child in psutil.Process(pid).children(recursive=True):
        try:
            for argument in child.cmdline():
                match = re.search(r"--gcs[-_]address=(\S+)", argument)
                if match:
                    return match.group(1)
        except psutil.Error:
            continue
    raise AssertionError("no Ray process with --gcs-address under the train process")


def _tail(path: Path) -> str:
    return path.read_text()[-3000:] if path.exists() else ""


@pytest.fixture(scope="module")
def live_run(tmp_path_factory, descendant_commands):
    logdir = tmp_path_factory.mktemp("live")
    log = logdir / "train.log"
    port = _free_port()
    env = dict(os.environ, RAY_metrics_report_interval_ms="1000")  # Ray exports every 10 s by default
    env.pop("XLA_FLAGS", None)  # the learner sees this machine as a user's run would
    needed = queried_metrics(json.loads(DASHBOARD.read_text()))
    with open(log, "w") as output:
        train = subprocess.Popen([*VTRAX, "train", "--preset", "cartpole", "--num-actors", "1", "--quiet",
                                  "--max-seconds", "600", "--report-period-s", "1", "--checkpoint-period-s", "5",
                                  "--logdir", str(logdir), "--metrics-export-port", str(port)],
                                 stdout=output, stderr=subprocess.STDOUT, env=env)
    try:
        deadline, samples = time.monotonic() + STARTUP_BOUND_S, {}
        while not needed <= set(samples):
            assert train.poll() is None, f"vtrax train exited early:\n{_tail(log)}"
            assert time.monotonic() < deadline, f"metrics {sorted(needed - set(samples))} never appeared:\n{_tail(log)}"
            time.sleep(1)
            samples = _scrape(port)
        gcs = _gcs_address(train.pid)
        processes = descendant_commands(train.pid)
        status = subprocess.run([*VTRAX, "status", "--address", gcs, "--json"], capture_output=True, text=True,
                                timeout=180)
        # NOTE: SIGINT (Ctrl-C): Ray's core worker replaces the driver's SIGTERM handler with one that aborts.
        train.send_signal(signal.SIGINT)
        train.wait(timeout=240)
        yield types.SimpleNamespace(samples=samples, needed=needed, status=status, gcs=gcs, processes=processes,
                                    returncode=train.returncode, run_dir=next(logdir.glob("CartPole-v1-*")), log=log)
    finally:
        if train.poll() is None:
            train.kill()
            train.wait()


def _value(samples, name):
    (labels, value), *others = samples[name]
    assert not others, f"{name} has {len(others) + 1} series; one run should export one"
    assert math.isfinite(value), f"{name} = {value}"
    return value


def test_every_dashboard_metric_is_exported_with_a_sane_value(live_run):
    samples = live_run.samples
    assert live_run.needed <= set(samples)
    assert _value(samples, "ray_vtrax_env_frames_total") > 0
    assert _value(samples, "ray_vtrax_env_frames_per_second") >= 0
    assert _value(samples, "ray_vtrax_learner_updates_total") >= 1
    assert _value(samples, "ray_vtrax_learner_updates_per_second") >= 0
    assert 1 <= _value(samples, "ray_vtrax_episode_return_mean") <= 500  # CartPole-v1's range
    assert 0 <= _value(samples, "ray_vtrax_policy_lag") < 10_000
    assert 0 <= _value(samples, "ray_vtrax_replay_queue_size") <= 64  # the preset's max_queue_size
    inserts, sampled = _value(samples, "ray_vtrax_replay_inserts_total"), _value(samples, "ray_vtrax_replay_samples_total")
    assert inserts >= 1 and 0 <= sampled <= inserts
    for name in ("ray_vtrax_learner_step_seconds", "ray_vtrax_learner_wait_seconds"):
        assert 0 <= _value(samples, name) < 60
    assert _value(samples, "ray_vtrax_grad_norm") >= 0
    assert _value(samples, "ray_vtrax_actor_restarts_total") == 0
    assert _value(samples, "ray_vtrax_env_errors_total") == 0
    terms = {labels["term"]: value for labels, value in samples["ray_vtrax_loss"]}
    assert {"total", "pg", "baseline", "entropy"} <= set(terms)
    assert all(math.isfinite(value) for value in terms.values())
    # The dashboard's `session` variable lists SessionName values; every panel filters on it.
    assert all(labels.get("SessionName") for name in live_run.needed for labels, _ in samples[name])


def test_status_reads_the_running_job_through_ray(live_run):
    assert live_run.status.returncode == 0, live_run.status.stderr
    report = json.loads(live_run.status.stdout)
    assert report["cluster"] == live_run.gcs and report["state"] == "running"
    assert report["env_id"] == "CartPole-v1"
    assert report["env_frames"] > 0 and report["frames_per_second"] >= 0
    assert report["learner_updates"] >= 1 and report["updates_per_second"] >= 0
    assert report["num_actors"] == 1 and report["actor_restarts"] == 0
    assert isinstance(report["replay_queue_size"], int) and report["replay_inserts"] >= report["replay_samples"]
    assert report["episode_return_mean_last100"] >= 1
    assert "pg" in report["loss"]
    lines = format_status(RunReport.from_dict(report), live_run.gcs)
    assert f"{report['env_frames']:,}" in lines[1] and "restarts 0" in lines[5]


def test_status_prints_no_ray_warnings(live_run):
    assert live_run.status.stderr == ""


def test_no_dashboard_process_runs_with_the_dashboard_off(live_run):
    assert any("raylet" in cmdline for cmdline in live_run.processes), live_run.processes
    assert not [cmdline for cmdline in live_run.processes if "dashboard/dashboard.py" in cmdline]


def test_the_run_stops_cleanly_and_status_then_finds_no_cluster(live_run):
    assert live_run.returncode == 0, _tail(live_run.log)
    summary = json.loads((live_run.run_dir / "summary.json").read_text())
    assert summary["stopped_because"] == "SIGINT" and summary["final_checkpoint"]
    gone = subprocess.run([*VTRAX, "status", "--address", live_run.gcs], capture_output=True, text=True, timeout=120)
    assert gone.returncode == 1
    assert gone.stderr.startswith("vtrax status: no Ray cluster answers at") and gone.stderr.count("\n") == 1


def test_serve_answers_act_for_the_trained_checkpoint(live_run):
    import gymnasium as gym

    from vtrax.deploy.serve import PolicyClient
    from vtrax.learner import checkpoint_metadata, load_params, make_network

    run_dir = live_run.run_dir
    checkpoint = json.loads((run_dir / "summary.json").read_text())["final_checkpoint"]
    step = checkpoint_metadata(checkpoint)["step"]
    env = gym.make("CartPole-v1")
    observations = np.stack([env.reset(seed=seed)[0] for seed in range(16)]).astype(np.float32)
    server = subprocess.Popen([*VTRAX, "serve", str(run_dir), "--port", "0"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    try:
        line = server.stdout.readline()
        address = re.search(r"listening on (\S+) ", line).group(1)
        with PolicyClient(address) as client:
            client.wait_until_serving(timeout_s=60)
            result = client.act(observations)
            status = client.status()
            snapshots = list(client.watch_metrics(from_start=True, timeout_s=60))
        server.send_signal(signal.SIGTERM)
        server.communicate(timeout=60)
    finally:
        if server.poll() is None:
            server.kill()
    assert result.checkpoint_step == step and status["checkpoint_step"] == step
    assert set(result.actions.tolist()) <= {0, 1} and result.logits.shape == (16, 2)
    logits, value = make_network("mlp", 2, hidden_sizes=(64, 64)).apply(load_params(checkpoint), observations[None])
    np.testing.assert_allclose(result.logits, np.asarray(logits[0]), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(result.value, np.asarray(value[0]), rtol=1e-4, atol=1e-4)
    assert status["run_state"] == "finished" and status["stopped_because"] == "SIGINT"
    assert status["env_frames"] > 0 and status["episode_return_mean_last100"] >= 1
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    assert [snapshot["sequence"] for snapshot in snapshots] == list(range(len(lines)))
    assert snapshots[-1]["env_frames"] == json.loads(lines[-1])["env_frames"]
