"""Box action spaces: the spec's bounds, refusals in one sentence, clipping for the env only."""

import gymnasium as gym
import numpy as np
import pytest

from vtrax.actors import EnvironmentSetupError, VectorEnv, env_spec
from vtrax.actors.environments import to_env_action


class _BoxActionEnv(gym.Env):
    """A one-step env whose action space is given (to reach the refusals)."""

    observation_space = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)

    def __init__(self, action_space):
        self.action_space = action_space

    def reset(self, *, seed=None, options=None):
        return np.zeros(2, np.float32), {}

    def step(self, action):
        return np.zeros(2, np.float32), 0.0, True, False, {}


gym.register("VtraxTestUnboundedBox-v0", entry_point=lambda: _BoxActionEnv(gym.spaces.Box(-np.inf, np.inf, (2,))))
gym.register("VtraxTestMultiDiscrete-v0", entry_point=lambda: _BoxActionEnv(gym.spaces.MultiDiscrete([2, 3], start=[1, 0])))
gym.register("VtraxTestMultiDiscrete2D-v0", entry_point=lambda: _BoxActionEnv(gym.spaces.MultiDiscrete([[2, 3], [2, 2]])))
gym.register("VtraxTestTuple-v0", entry_point=lambda: _BoxActionEnv(gym.spaces.Tuple([gym.spaces.Discrete(2)] * 2)))


def test_pendulum_spec_has_its_bounds():
    spec = env_spec("Pendulum-v1")
    assert spec.is_continuous and spec.num_actions == 1
    assert spec.action_low == (-2.0,) and spec.action_high == (2.0,)
    assert not env_spec("CartPole-v1").is_continuous


@pytest.mark.parametrize("env_id, message", [
    ("VtraxTestUnboundedBox-v0", "unbounded Box action space .* register a version with finite bounds"),
    ("VtraxTestMultiDiscrete2D-v0", "takes a MultiDiscrete of rank 1"),
    ("VtraxTestTuple-v0", "take a Discrete, MultiDiscrete or bounded Box action space"),
])
def test_unusable_action_spaces_fail_with_one_sentence(env_id, message):
    with pytest.raises(EnvironmentSetupError, match=message) as info:
        env_spec(env_id)
    assert "\n" not in str(info.value)


def test_box_actions_are_clipped_for_the_env_only():
    space = gym.spaces.Box(-2.0, 2.0, (1,), np.float32)
    raw = np.array([7.5], np.float32)
    np.testing.assert_array_equal(to_env_action(space, raw), [2.0])
    assert raw[0] == 7.5  # the caller's (stored) action is untouched
    assert to_env_action(gym.spaces.Discrete(3), np.int32(2)) == 2


def test_pendulum_steps_an_out_of_bounds_action_as_the_bound():
    # Pendulum's reward charges 0.001 u^2 for the torque it applies: equal rewards and
    # observations for 10 and 2 mean the env got the clipped action.
    big, bound = VectorEnv("Pendulum-v1", 2, seed=3), VectorEnv("Pendulum-v1", 2, seed=3)
    np.testing.assert_array_equal(big.reset(), bound.reset())
    stepped_big = big.step(np.array([[10.0], [-10.0]], np.float32))
    stepped_bound = bound.step(np.array([[2.0], [-2.0]], np.float32))
    np.testing.assert_array_equal(stepped_big.reward, stepped_bound.reward)
    np.testing.assert_array_equal(stepped_big.observation, stepped_bound.observation)
    big.close(), bound.close()


def test_multi_discrete_spec_counts_and_env_actions_shift_by_start():
    spec = env_spec("VtraxTestMultiDiscrete-v0")
    assert spec.is_multi_discrete and not spec.is_continuous
    assert spec.num_actions == 2 and spec.action_nvec == (2, 3)
    assert not env_spec("CartPole-v1").is_multi_discrete
    space = gym.spaces.MultiDiscrete([2, 3], start=[1, 0])
    np.testing.assert_array_equal(to_env_action(space, np.array([[0, 2], [1, 0]], np.int32)), [[1, 2], [2, 0]])
