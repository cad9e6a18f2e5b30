"""MinAtar ids registered by vtrax: spaces, uint8 0/1 grids, minimal action sets, a clear error for a bad game."""

import gymnasium as gym
import numpy as np
import pytest

from vtrax.actors import EnvironmentSetupError, VectorEnv, env_spec, make_env
from vtrax.actors.minatar import GAMES

CHANNELS = {"Asterix": 4, "Breakout": 4, "Freeway": 7, "Seaquest": 10, "SpaceInvaders": 6}
MINIMAL_ACTIONS = {"Asterix": 5, "Breakout": 3, "Freeway": 3, "Seaquest": 6, "SpaceInvaders": 4}


@pytest.mark.parametrize("game", sorted(GAMES))
def test_every_game_is_registered_with_uint8_grids_and_its_minimal_action_set(game):
    spec = env_spec(f"MinAtar/{game}-v1")
    assert spec.observation_shape == (10, 10, CHANNELS[game]) and spec.observation_dtype == np.uint8
    assert spec.num_actions == MINIMAL_ACTIONS[game] and spec.is_image and spec.frames_per_step == 1
    assert env_spec(f"MinAtar/{game}-v0").num_actions == 6
    assert f"MinAtar/{game}-v1" in gym.registry


def test_observations_are_the_games_bool_grid_as_0_1_and_seeds_repeat_episodes():
    def episode(seed):
        env = make_env("MinAtar/Breakout-v1", seed=seed)
        observation, _ = env.reset(seed=seed)
        observations, rewards = [observation], []
        for step in range(200):
            observation, reward, terminated, truncated, _ = env.step(step % 3)
            observations.append(observation)
            rewards.append(reward)
            if terminated or truncated:
                break
        env.close()
        return np.stack(observations), rewards

    observations, rewards = episode(3)
    assert observations.dtype == np.uint8 and set(np.unique(observations)) <= {0, 1}
    assert observations[0, ..., 0].sum() == 1  # Breakout's paddle channel: one cell
    again, rewards_again = episode(3)
    np.testing.assert_array_equal(observations, again)
    assert rewards == rewards_again and set(rewards) <= {0.0, 1.0}


def test_the_vector_env_steps_minatar_grids():
    envs = VectorEnv("MinAtar/SpaceInvaders-v1", 3, seed=0)
    assert envs.reset().shape == (3, 10, 10, 6)
    step = envs.step(np.zeros(3, np.int64))
    assert step.observation.shape == (3, 10, 10, 6) and step.observation.dtype == np.uint8
    envs.close()


@pytest.mark.parametrize("env_id", ["MinAtar/Pong-v1", "MinAtar/Breakout-v5", "MinAtar/breakout-v1"])
def test_an_unknown_game_names_the_five(env_id):
    with pytest.raises(EnvironmentSetupError) as info:
        env_spec(env_id)
    message = str(info.value)
    assert f"unknown MinAtar game {env_id!r}" in message and "\n" not in message
    assert all(f"MinAtar/{game}-v1" in message for game in GAMES)
