"""`vtrax/CartPoleNoVelocity-v1`: CartPole-v1's dynamics, with only the position and the angle visible."""

import gymnasium as gym
import numpy as np

from vtrax.actors import env_spec, make_env
from vtrax.deploy.config import preset


def test_it_is_cartpole_with_the_velocities_hidden():
    hidden, full = make_env("vtrax/CartPoleNoVelocity-v1"), gym.make("CartPole-v1")
    observation, _ = hidden.reset(seed=3)
    reference, _ = full.reset(seed=3)
    np.testing.assert_array_equal(observation, reference[[0, 2]].astype(np.float32))
    actions = np.random.default_rng(0).integers(0, 2, size=200)
    for step, action in enumerate(actions):
        observation, reward, terminated, truncated, _ = hidden.step(int(action))
        reference, reference_reward, reference_terminated, reference_truncated, _ = full.step(int(action))
        assert observation.shape == (2,) and observation.dtype == np.float32
        np.testing.assert_array_equal(observation, reference[[0, 2]])
        assert (reward, terminated, truncated) == (reference_reward, reference_terminated, reference_truncated)
        if terminated or truncated:
            break
    assert step > 5, "a random policy balances CartPole for a few steps"
    assert env_spec("vtrax/CartPoleNoVelocity-v1").observation_shape == (2,)


def test_its_preset_is_the_recurrent_agent():
    config = preset("cartpole-no-velocity")
    assert config.env_id == "vtrax/CartPoleNoVelocity-v1" and config.use_lstm and config.network == "mlp"
