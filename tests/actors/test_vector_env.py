"""VectorEnv: both backends, episode statistics, boundaries, and envs that raise."""

import gymnasium as gym
import numpy as np
import pytest

from vtrax.actors import VectorEnv


class _RaisingCartPole(gym.Wrapper):
    """CartPole that raises on its 5th step after construction: a real env fault."""

    def __init__(self):
        super().__init__(gym.make("CartPole-v1"))
        self._steps = 0

    def step(self, action):
        self._steps += 1
        if self._steps == 5:
            raise RuntimeError("simulated physics crash")
        return self.env.step(action)


gym.register("VtraxRaisingCartPole-v0", entry_point=_RaisingCartPole)


@pytest.mark.parametrize("env_id", ["CartPole-v1", "Acrobot-v1"])
def test_episode_returns_match_rewards_and_autoreset_steps_follow_the_ends(env_id):
    env = VectorEnv(env_id, 4, seed=3)
    env.reset()
    rewards = np.zeros(4)
    episodes = []
    rng = np.random.default_rng(0)

    def step_and_record():
        step = env.step(rng.integers(0, 2, size=4))
        assert step.observation.shape[0] == 4 and step.discount.dtype == np.float32
        for index in np.flatnonzero(~step.valid):  # the step after every end, terminated or truncated
            episodes.append(rewards[index])
            rewards[index] = 0.0
        rewards[:] += np.where(step.valid, step.reward, 0.0)

    for _ in range(600):  # Acrobot's random episodes mostly hit the 500-step time limit
        step_and_record()
    finished = env.pop_episodes()
    step_and_record()  # marks the episodes that ended at the last step
    assert len(finished) == len(episodes) > 0
    assert sorted(r for r, _ in finished) == pytest.approx(sorted(episodes))
    assert env.pop_episodes() == []
    env.close()


def test_native_cartpole_marks_the_autoreset_step_invalid():
    env = VectorEnv("CartPole-v1", 2, seed=0)
    env.reset()
    ended_at = None
    for t in range(200):
        step = env.step(np.zeros(2, np.int64))  # always left: episodes end quickly
        if ended_at is not None and t == ended_at + 1:
            assert not step.valid.all() and step.reward[~step.valid].sum() == 0
            assert (step.discount[~step.valid] == 0).all()
            break
        if ended_at is None and (step.discount == 0).any():  # always-left CartPole terminates
            ended_at = t
    assert ended_at is not None
    lengths = [length for _, length in env.pop_episodes()]
    assert all(8 <= length <= 12 for length in lengths), lengths  # always-left CartPole lasts ~9-11 steps


def test_an_env_that_raises_is_rebuilt_counted_and_ends_its_episode():
    env = VectorEnv("VtraxRaisingCartPole-v0", 3, seed=0)
    env.reset()
    discounts = [env.step(np.ones(3, np.int64)).discount for _ in range(8)]
    assert env.env_errors == 3  # each of the three envs raised once, at its 5th step
    assert (discounts[4] == 0).all()
    assert (discounts[5] == 1).all()  # rebuilt envs carry on
    assert env.pop_episodes() == [], "an episode cut short by a crash is not a finished episode"
    env.close()


def test_a_crashed_native_vector_env_reports_no_partial_episodes():
    env = VectorEnv("CartPole-v1", 2, seed=0)
    env.reset()
    env.step(np.zeros(2, np.int64))

    def crash(actions):
        raise RuntimeError("simulated vector env crash")

    env._backend._env.step = crash  # NOTE: the fault itself cannot be caused from outside
    step = env.step(np.zeros(2, np.int64))
    assert env.env_errors == 1 and (step.discount == 0).all()
    assert env.pop_episodes() == []
    assert env.step(np.zeros(2, np.int64)).observation.shape == (2, 4)  # rebuilt, stepping again
    env.close()


def test_atari_counts_four_emulator_frames_per_agent_step():
    assert VectorEnv("CartPole-v1", 1).frames_per_step == 1
    from vtrax.actors.environments import frames_per_step

    assert frames_per_step("ALE/Pong-v5") == 4


def test_num_envs_must_be_positive():
    with pytest.raises(ValueError, match="num_envs must be >= 1, got 0"):
        VectorEnv("CartPole-v1", 0)
