"""Box actions end to end: one short `vtrax train --launcher local` on Pendulum-v1, then eval and serve on it.

The learning target belongs to BENCHMARKS.md; this checks that the pipeline ran:
actors stepped, the learner updated, episodes finished, and the checkpoint plays
(eval, the mean action) and answers Act with continuous actions (serve).
"""

import json
import subprocess
import sys

import numpy as np
import pytest

from vtrax.actors import env_spec
from vtrax.deploy.config import TrainConfig, check_fits, preset
from vtrax.deploy.serve import PolicyClient, ServeOptions, build_server
from vtrax.deploy.serve.source import checkpoint_meta
from vtrax.learner import latest_checkpoint, load_params, make_network

FRAMES = 20_000
PENDULUM_RANDOM_RETURN = -1200.0  # roughly, uniformly random torques


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    logdir = tmp_path_factory.mktemp("pendulum")
    result = subprocess.run(
        [sys.executable, "-m", "vtrax.deploy.cli", "train", "--preset", "classic-continuous", "--launcher", "local",
         "--num-actors", "1", "--num-envs-per-actor", "8", "--max-env-frames", str(FRAMES), "--max-seconds", "120",
         "--stop-at-target", "false", "--quiet", "--logdir", str(logdir)],
        capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr
    (run,) = [path for path in logdir.iterdir() if path.is_dir()]
    return run


def test_the_pipeline_ran_on_box_actions(run_dir):
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["stopped_because"] == "max_env_frames" and summary["env_frames"] >= FRAMES
    assert summary["learner_updates"] > 0
    assert np.isfinite(summary["episode_return_mean_last100"])  # 200-step episodes finished
    meta = checkpoint_meta(latest_checkpoint(str(run_dir / "checkpoints")))
    assert meta["network"]["policy"] == "gaussian" and meta["network"]["num_actions"] == 1


def test_eval_plays_the_mean_action(run_dir):
    result = subprocess.run([sys.executable, "-m", "vtrax.deploy.cli", "eval", str(run_dir), "--episodes", "2",
                             "--json"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    outcome = json.loads(result.stdout)
    assert outcome["greedy"] and outcome["episodes"] == 2
    assert 2 * PENDULUM_RANDOM_RETURN < outcome["mean"] < 0  # Pendulum returns are negative, per 200 steps


def test_serve_answers_act_with_clipped_mean_actions(run_dir):
    spec = env_spec("Pendulum-v1")
    config = TrainConfig.from_dict(json.loads((run_dir / "config.json").read_text()))
    network = make_network("mlp", 1, hidden_sizes=config.hidden_sizes, policy="gaussian")
    observations = np.random.default_rng(0).normal(size=(5, 3)).astype(np.float32) * [1, 1, 8]
    observations = observations.astype(np.float32)
    options = ServeOptions(port=0, max_batch_size=8, max_request_bytes=4096, poll_interval_s=0.2, follow=False)
    with build_server(str(run_dir), options).start() as server, PolicyClient(server.address, timeout_s=30) as client:
        client.wait_until_serving(timeout_s=30)
        greedy, sampled = client.act(observations), client.act(observations, sample=True, seed=5)
    policy_out, _ = network.apply(load_params(str(run_dir / "checkpoints")), observations[None])
    mean = np.asarray(policy_out[0, :, :1])
    assert greedy.actions.shape == (5, 1) and greedy.actions.dtype == np.float32 and greedy.logits.shape == (5, 2)
    np.testing.assert_allclose(greedy.actions, np.clip(mean, spec.action_low, spec.action_high), atol=1e-5)
    assert sampled.actions.shape == (5, 1) and np.all(np.abs(sampled.actions) <= 2.0)
    assert not np.allclose(sampled.actions, greedy.actions)


@pytest.mark.parametrize("overrides, observation_shape, message", [
    ({}, (84, 84, 4), "continuous (Box) actions, which vtrax learns with a feed-forward Gaussian mlp policy"),
    ({"use_lstm": True}, (3,), "without --use-lstm"),
])
def test_continuous_actions_with_images_or_lstm_are_refused_in_one_sentence(overrides, observation_shape, message):
    import dataclasses

    config = dataclasses.replace(preset("classic-continuous"), **overrides)
    with pytest.raises(ValueError, match=message.replace("(", "\\(").replace(")", "\\)")) as info:
        check_fits(config, observation_shape, env_spec("Pendulum-v1"))
    assert "\n" not in str(info.value)
