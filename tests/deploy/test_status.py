"""`vtrax status` without a run: one line and exit 1; the report's rendering. (With a run: test_monitoring_live.)"""

import subprocess
import sys

import pytest

from vtrax.deploy.commands.status import format_status
from vtrax.deploy.runtime.report import RunReport

REPORT = {
    "env_id": "CartPole-v1", "wall_seconds": 12.5, "env_frames": 123456, "frames_per_second": 30000.0,
    "learner_updates": 345, "updates_per_second": 60.0, "param_version": 345,
    "episode_return_mean_last100": 87.25, "best_episode_return_mean_last100": 90.0, "episodes": 1500,
    "replay_queue_size": 3, "replay_inserts": 400, "replay_samples": 390, "num_actors": 2, "actor_restarts": 1,
    "env_errors": 0, "policy_lag": 4.5, "learner_wait_fraction": 0.25,
    "loss": {"total": 1.5, "pg": 0.1, "baseline": 1.4, "entropy": -0.01},
}


def test_the_report_renders_every_counter_the_issue_names():
    text = "\n".join(format_status(RunReport.from_dict(REPORT), "10.0.0.5:6379"))
    for expected in ("CartPole-v1", "10.0.0.5:6379", "123,456", "30,000 frames/s", "345 updates", "60.0 updates/s",
                     "87.25 mean", "queue 3 items", "inserts 400", "samples 390", "2 running", "restarts 1",
                     "4.50 versions", "25%", "pg 0.1000"):
        assert expected in text, expected


def test_missing_values_show_as_not_available():
    lines = format_status(RunReport.from_dict({"env_id": "CartPole-v1", "env_frames": 0, "loss": {}}), "auto")
    assert "n/a mean" in lines[3] and lines[-1].endswith("n/a")


@pytest.mark.parametrize("address, phrase", [
    ("127.0.0.1:1", "vtrax status: no Ray cluster answers at 127.0.0.1:1"),
    ("not-an-address", "is not host:port (or 'auto')"),
])
def test_no_cluster_is_one_line_and_exit_1(address, phrase):
    result = subprocess.run([sys.executable, "-m", "vtrax.deploy.cli", "status", "--address", address],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert phrase in result.stderr and result.stderr.count("\n") == 1 and result.stdout == ""


def test_a_cluster_without_a_run_is_one_line_without_ray_warnings(local_ray_cluster):
    result = subprocess.run([sys.executable, "-m", "vtrax.deploy.cli", "status", "--address",
                             local_ray_cluster.address], capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert result.stderr.startswith(f"vtrax status: the Ray cluster at {local_ray_cluster.address} runs no vtrax job")
    assert result.stderr.count("\n") == 1 and result.stdout == "", result.stderr
