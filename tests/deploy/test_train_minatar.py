"""One short end-to-end run of `vtrax train --preset minatar` (in-process roles: threads + in-process Reverb)."""

import json
import subprocess
import sys

import pytest


def test_minatar_preset_trains_end_to_end_with_the_local_launcher(tmp_path):
    command = [sys.executable, "-m", "vtrax.deploy.cli", "train", "--preset", "minatar", "--env",
               "MinAtar/SpaceInvaders-v1", "--launcher", "local", "--num-actors", "1", "--num-envs-per-actor", "8",
               "--max-seconds", "12", "--quiet", "--logdir", str(tmp_path)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    (run_dir,) = tmp_path.iterdir()
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["stopped_because"] == "max_seconds"
    assert summary["env_frames"] > 1000 and summary["learner_updates"] > 0 and summary["episodes"] > 0
    config = json.loads((run_dir / "config.json").read_text())
    assert (config["env_id"], config["network"]) == ("MinAtar/SpaceInvaders-v1", "minatar")


@pytest.mark.parametrize("agent, network", [("dqn", "dueling_minatar"), ("r2d2", "minatar")])
def test_the_q_agents_minatar_presets_train_end_to_end(tmp_path, agent, network):
    """The conv Q networks on MinAtar's grids: transitions (dqn) and sequences (r2d2) written, sampled, learnt."""
    command = [sys.executable, "-m", "vtrax.deploy.cli", "train", "--agent", agent, "--preset", "minatar",
               "--env", "MinAtar/Asterix-v1", "--launcher", "local", "--num-envs-per-actor", "4",
               "--evaluator-num-envs", "1", "--min-replay-size", "10", "--max-seconds", "10", "--quiet",
               "--logdir", str(tmp_path)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    (run_dir,) = tmp_path.iterdir()
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["env_frames"] > 500 and summary["learner_updates"] > 0 and summary["episodes"] > 0
    assert summary["return_source"] == "evaluator"
    config = json.loads((run_dir / "config.json").read_text())
    assert (config["agent"], config["network"]) == (agent, network)
