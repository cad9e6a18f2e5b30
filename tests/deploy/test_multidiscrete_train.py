"""MultiDiscrete actions end to end: `vtrax train --launcher local` on a contextual bandit with
MultiDiscrete([3, 4]) actions (tests/deploy/multidiscrete_bandit.py), then eval and serve on its checkpoint."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from multidiscrete_bandit import NVEC, RANDOM_RETURN
from vtrax.actors import env_spec
from vtrax.deploy.agents import get_agent
from vtrax.deploy.config import TrainConfig, check_fits
from vtrax.deploy.serve import PolicyClient, ServeOptions, build_server
from vtrax.deploy.serve.source import checkpoint_meta
from vtrax.learner import latest_checkpoint

ENV_ID = "multidiscrete_bandit:VtraxTestMultiDiscreteBandit-v0"  # gymnasium imports the module, then makes the id
FRAMES = 80_000
HERE = Path(__file__).parent


def _vtrax(*args: str, timeout: float) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH")]))}
    return subprocess.run([sys.executable, "-m", "vtrax.deploy.cli", *args], capture_output=True, text=True,
                          timeout=timeout, env=env)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    logdir = tmp_path_factory.mktemp("multidiscrete")
    # Short unrolls, a small batch and a short horizon (each step is its own bandit round): ~10x more
    # updates per frame than the CartPole defaults, so the policy learns within the frame budget.
    result = _vtrax("train", "--env", ENV_ID, "--launcher", "local", "--num-actors", "1", "--num-envs-per-actor", "16",
                    "--unroll-length", "8", "--batch-size", "16", "--discount", "0.5",
                    "--max-env-frames", str(FRAMES), "--max-seconds", "120", "--stop-at-target", "false", "--quiet",
                    "--logdir", str(logdir), timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr
    (run,) = [path for path in logdir.iterdir() if path.is_dir()]
    return run


def test_the_multi_categorical_policy_learns_the_bandit(run_dir):
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["stopped_because"] == "max_env_frames" and summary["learner_updates"] > 0
    # Random: 2.33 per 8-step episode, best: 8. ~5.5 at 100K frames in trial runs; the bar is well below.
    assert summary["episode_return_mean_last100"] > RANDOM_RETURN + 1.0
    meta = checkpoint_meta(latest_checkpoint(str(run_dir / "checkpoints")))
    assert meta["network"]["policy"] == "multi_categorical" and meta["network"]["action_nvec"] == list(NVEC)


def test_eval_plays_greedy_multi_discrete_actions(run_dir):
    result = _vtrax("eval", str(run_dir), "--episodes", "4", "--json", timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    outcome = json.loads(result.stdout)
    assert outcome["greedy"] and outcome["episodes"] == 4
    assert outcome["mean"] > RANDOM_RETURN + 1.0


def test_serve_answers_act_with_one_index_per_dimension(run_dir):
    observations = np.zeros((5, sum(NVEC)), np.float32)
    observations[np.arange(5), [0, 1, 2, 0, 1]] = 1.0  # wanted choice of dimension 0
    observations[np.arange(5), 3 + np.array([3, 2, 1, 0, 3])] = 1.0  # of dimension 1
    options = ServeOptions(port=0, max_batch_size=8, max_request_bytes=4096, poll_interval_s=0.2, follow=False)
    with build_server(str(run_dir), options).start() as server, PolicyClient(server.address, timeout_s=30) as client:
        client.wait_until_serving(timeout_s=30)
        greedy = client.act(observations)
    assert greedy.actions.shape == (5, 2) and greedy.actions.dtype == np.int32 and greedy.logits.shape == (5, 7)
    assert np.all((greedy.actions >= 0) & (greedy.actions < np.array(NVEC)))
    np.testing.assert_array_equal(greedy.actions, np.stack([np.argmax(greedy.logits[:, :3], -1),
                                                            np.argmax(greedy.logits[:, 3:], -1)], -1))


@pytest.mark.parametrize("agent", ["dqn", "r2d2"])
def test_q_agents_refuse_multi_discrete_actions_in_one_sentence(agent):
    with pytest.raises(ValueError, match=f"--agent {agent} .* MultiDiscrete actions \\[3, 4\\]; use --agent impala") as info:
        get_agent(agent).check(TrainConfig(agent=agent, env_id=ENV_ID), env_spec(ENV_ID))
    assert "\n" not in str(info.value)


def test_lstm_with_multi_discrete_actions_is_refused_in_one_sentence():
    config = TrainConfig(env_id=ENV_ID, use_lstm=True)
    with pytest.raises(ValueError, match="has MultiDiscrete actions.* drop --use-lstm") as info:
        check_fits(config, (sum(NVEC),), env_spec(ENV_ID))
    assert "\n" not in str(info.value)
