"""Ape-X's epsilon ladder (closed form) and the epsilon-greedy policy on q-values."""

import jax
import numpy as np
import pytest

from vtrax.actors import apex_epsilons, make_epsilon_greedy_select_action


def test_ladder_spans_all_envs_of_all_actors():
    ladder = np.concatenate([apex_epsilons(actor, 3, 2, epsilon=0.4, alpha=7.0) for actor in range(3)])
    expected = 0.4 ** (1 + 7.0 * np.arange(6) / 5)
    np.testing.assert_allclose(ladder, expected, rtol=1e-6)
    assert ladder[0] == pytest.approx(0.4) and ladder[-1] == pytest.approx(0.4**8)
    np.testing.assert_allclose(apex_epsilons(0, 1, 1, epsilon=0.3), [0.3])


def test_ladder_refuses_an_actor_outside_the_fleet():
    with pytest.raises(ValueError, match=r"actor_index must be in \[0, 2\), got 2"):
        apex_epsilons(2, 2, 4)


def _apply(params, observation):  # q-values: action 1 is best for every observation
    q_values = jax.numpy.stack([observation[..., 0] * 0.0, observation[..., 0] * 0.0 + params], axis=-1)
    return q_values, q_values.max(-1)


def test_greedy_envs_take_the_argmax_and_exploring_envs_take_random_actions():
    select = make_epsilon_greedy_select_action(_apply, np.array([0.0, 1.0], np.float32))
    observation = np.zeros((2, 3), np.float32)
    actions = np.array([select(1.0, observation, jax.random.PRNGKey(0), step).action for step in range(200)])
    assert (actions[:, 0] == 1).all()
    assert 0.35 < (actions[:, 1] == 0).mean() < 0.65  # uniform over 2 actions: ~0.5
    choice = select(1.0, observation, jax.random.PRNGKey(0), 0)
    np.testing.assert_allclose(choice.logits, [[0.0, 1.0], [0.0, 1.0]])
    with pytest.raises(ValueError, match="observation batch has 3 envs but the policy has 2 epsilons"):
        select(1.0, np.zeros((3, 3), np.float32), jax.random.PRNGKey(0), 0)
