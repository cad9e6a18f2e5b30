"""Environment construction: ids, Atari preprocessing, clear start-up errors."""

import numpy as np
import pytest

from vtrax.actors import EnvironmentSetupError, env_spec, make_env


def test_cartpole_spec():
    spec = env_spec("CartPole-v1")
    assert spec.observation_shape == (4,) and spec.observation_dtype == np.float32
    assert spec.num_actions == 2 and spec.frames_per_step == 1 and not spec.is_image


def test_atari_is_preprocessed_to_84x84x4_uint8_frames():
    env = make_env("ALE/Pong-v5", seed=0)
    observation, _ = env.reset(seed=0)
    assert observation.shape == (84, 84, 4) and observation.dtype == np.uint8
    observation, reward, *_ = env.step(0)
    assert observation.shape == (84, 84, 4)
    env.close()
    spec = env_spec("ALE/Pong-v5")
    assert spec.num_actions == 6 and spec.frames_per_step == 4 and spec.is_image


@pytest.mark.parametrize("env_id, message", [
    ("NoSuchEnv-v0", "unknown environment id 'NoSuchEnv-v0'"),
    ("ALE/NoSuchGame-v5", "unknown environment id 'ALE/NoSuchGame-v5'"),
    ("FrozenLake-v1", "vtrax supports flat vector observations"),
])
def test_unusable_environments_fail_with_one_sentence(env_id, message):
    with pytest.raises(EnvironmentSetupError, match=message) as info:
        env_spec(env_id)
    assert "\n" not in str(info.value)


def test_atari_frames_stack_oldest_first_and_rewards_stay_unclipped():
    env = make_env("ALE/Pong-v5", seed=1)
    previous, _ = env.reset(seed=1)
    env.action_space.seed(1)
    rewards = []
    for _ in range(300):
        observation, reward, terminated, truncated, _ = env.step(env.action_space.sample())
        # Frame stack on the last axis, oldest first: each step shifts in one new frame.
        np.testing.assert_array_equal(observation[..., :3], previous[..., 1:])
        rewards.append(reward)
        previous = observation
        if terminated or truncated:
            break
    env.close()
    assert set(rewards) <= {-1.0, 0.0, 1.0} and -1.0 in rewards  # Pong's own scores: a point lost is -1


def test_atari_noop_starts_vary_the_first_frame_with_the_seed():
    env = make_env("ALE/Pong-v5", seed=0)
    starts = {env.reset(seed=seed)[0].tobytes() for seed in range(6)}
    env.close()
    assert len(starts) > 1, "30 random no-ops at reset should not always give the same first observation"
