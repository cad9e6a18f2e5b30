"""The T-maze memory task: its dynamics step by step, and why memoryless policies average 0."""

import itertools

import numpy as np
import pytest

from vtrax.actors import env_spec, make_env
from vtrax.actors.tmaze import LEFT, RIGHT, TMAZE_ID, TMazeEnv

CUE = {LEFT: [1, 0, 0], RIGHT: [0, 1, 0]}
BLANK, JUNCTION = [0, 0, 0], [0, 0, 1]


def play(env, seed, policy):
    """Observations, rewards and the end flags of one episode; `policy(observation, history) -> action`."""
    observation, _ = env.reset(seed=seed)
    observations, rewards = [observation], []
    while True:
        observation, reward, terminated, truncated, _ = env.step(policy(observation, observations))
        rewards.append(reward)
        if terminated or truncated:
            return observations, rewards, terminated, truncated
        observations.append(observation)


@pytest.mark.parametrize("delay_steps", [0, 1, 5])
def test_cue_first_then_blank_corridor_then_the_junction_and_a_plus_or_minus_one(delay_steps):
    env = TMazeEnv(delay_steps=delay_steps)
    remember = lambda observation, history: int(np.argmax(history[0][:2]))  # noqa: E731 - the cue's side
    cues = set()
    for seed in range(20):
        observations, rewards, terminated, truncated = play(env, seed, remember)
        cue = int(np.argmax(observations[0][:2]))
        cues.add(cue)
        expected = [CUE[cue]] + [BLANK] * delay_steps + [JUNCTION]
        np.testing.assert_array_equal(np.stack(observations), np.asarray(expected, np.float32))
        assert rewards == [0.0] * (delay_steps + 1) + [1.0] and terminated and not truncated
        wrong = play(env, seed, lambda observation, history: 1 - remember(observation, history))[1]
        assert wrong[-1] == -1.0
    assert cues == {LEFT, RIGHT}


def test_every_memoryless_deterministic_policy_averages_zero_over_the_two_cues():
    """A memoryless policy maps each of the 4 observations to an action: 16 policies, each returns +1 on one cue
    and -1 on the other, because the junction looks the same after either cue."""
    observations = [tuple(CUE[LEFT]), tuple(CUE[RIGHT]), tuple(BLANK), tuple(JUNCTION)]
    env = TMazeEnv(delay_steps=3)
    for actions in itertools.product([LEFT, RIGHT], repeat=len(observations)):
        table = dict(zip(observations, actions))
        policy = lambda observation, history: table[tuple(observation.astype(int))]  # noqa: E731
        by_cue = {}
        for seed in range(40):
            observations_seen, rewards, _, _ = play(env, seed, policy)
            by_cue[int(np.argmax(observations_seen[0][:2]))] = rewards[-1]
        assert sorted(by_cue.values()) == [-1.0, 1.0]


def test_registered_id_and_bad_delay():
    spec = env_spec(TMAZE_ID)
    assert spec.observation_shape == (3,) and spec.num_actions == 2 and spec.observation_dtype == np.float32
    assert make_env(TMAZE_ID).unwrapped.delay_steps == 8
    with pytest.raises(ValueError, match="delay_steps must be an int >= 0, got -1"):
        TMazeEnv(delay_steps=-1)
