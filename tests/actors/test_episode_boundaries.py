"""Episode boundaries from the env to the loss, on a tiny env whose targets are known in closed form.

The env pays reward 1 at every step and its observation one-hot encodes the step
index in the episode (0..LENGTH). Its episodes end after LENGTH = 3 steps, either
by a time limit (truncated) or by termination, and it runs on both backends:
`_EnvList` (a registered id without a vector entry point) and `_NativeVector`
(gymnasium's `SyncVectorEnv`, next-step autoreset, as the vector entry point).
With λ = 1 and on-policy ratios the target of step t of an episode is

    Σ_{k=t}^{LENGTH-1} γ^(k-t)                       (terminated)
    Σ_{k=t}^{LENGTH-1} γ^(k-t) + γ^(LENGTH-t) V(o_final)   (truncated)

so at the cut (t = LENGTH - 1) it is r + γ V(o_final), or just r.
"""

import gymnasium as gym
import jax
import numpy as np
import pytest

from vtrax import learner
from vtrax.actors import VectorEnv
from vtrax.learner.loss import make_errors_and_advantages, network_outputs
from actors_testlib import run_recurrent_actor

LENGTH, GAMMA = 3, 0.9


class _ConstantReward(gym.Env):
    """Reward 1 per step; observation: one-hot step index [LENGTH + 1], or uint8 frames of it."""

    def __init__(self, terminate: bool = False, frames: bool = False):
        self._terminate, self._frames, self._t = terminate, frames, 0
        self.action_space = gym.spaces.Discrete(2)
        self.observation_space = (gym.spaces.Box(0, 255, (84, 84, 4), np.uint8) if frames
                                  else gym.spaces.Box(0.0, 1.0, (LENGTH + 1,), np.float32))

    def _observation(self):
        if self._frames:
            return np.full((84, 84, 4), 60 * self._t, np.uint8)
        return np.eye(LENGTH + 1, dtype=np.float32)[self._t]

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self._t = 0
        return self._observation(), {}

    def step(self, action):
        self._t += 1
        return self._observation(), 1.0, self._terminate and self._t == LENGTH, False, {}


def _sync_vector(num_envs, max_episode_steps=None, **kwargs):
    def make():
        env = _ConstantReward(**kwargs)
        return gym.wrappers.TimeLimit(env, max_episode_steps) if max_episode_steps else env

    return gym.vector.SyncVectorEnv([make] * num_envs)  # next-step autoreset, gymnasium's default


def _env_id(end: str, backend: str, frames: bool = False) -> str:
    return f"VtraxConstant{end.title()}{backend.title()}{'Frames' if frames else ''}-v0"


for _end in ("truncated", "terminated"):
    for _backend in ("list", "native"):
        for _frames in (False, True):
            gym.register(_env_id(_end, _backend, _frames), entry_point=_ConstantReward,
                         vector_entry_point=_sync_vector if _backend == "native" else None,
                         max_episode_steps=LENGTH if _end == "truncated" else None,
                         kwargs={"terminate": _end == "terminated", "frames": _frames})

CASES = [(end, backend) for end in ("truncated", "terminated") for backend in ("list", "native")]


def _collect(env_id: str, num_envs: int, num_steps: int) -> dict[str, np.ndarray]:
    """`num_steps` steps in the replay format (step t: the observation acted on and what followed), [E, t, ...]."""
    env = VectorEnv(env_id, num_envs, seed=0)
    observation, steps = env.reset(), []
    for _ in range(num_steps):
        transition = env.step(np.zeros(num_envs, np.int64))
        steps.append({"observation": observation, "reward": transition.reward, "discount": transition.discount,
                      "valid": transition.valid})
        observation = transition.observation
    env.pop_episodes()
    env.close()
    return {key: np.stack([step[key] for step in steps], axis=1) for key in steps[0]}


@pytest.mark.parametrize("end, backend", CASES)
def test_both_backends_follow_one_next_step_autoreset_timeline(end, backend):
    env = VectorEnv(_env_id(end, backend), 2, seed=0)
    assert type(env._backend).__name__ == {"list": "_EnvList", "native": "_NativeVector"}[backend]
    env.close()
    steps = _collect(_env_id(end, backend), 2, 9)
    index = steps["observation"].argmax(-1)  # [E, 9]: the step index in the episode
    np.testing.assert_array_equal(index, [[0, 1, 2, 3, 0, 1, 2, 3, 0]] * 2)  # 3: o_final, then a new episode
    np.testing.assert_array_equal(steps["valid"], [[True, True, True, False] * 2 + [True]] * 2)
    np.testing.assert_array_equal(steps["reward"], [[1, 1, 1, 0] * 2 + [1]] * 2)
    cut = 1.0 if end == "truncated" else 0.0  # a time limit keeps the bootstrap, a termination does not
    np.testing.assert_array_equal(steps["discount"], [[1, 1, cut, 0] * 2 + [1]] * 2)


@pytest.mark.parametrize("baseline", ["vtrace", "td_lambda"])
@pytest.mark.parametrize("end, backend", CASES)
def test_the_target_at_the_cut_bootstraps_only_on_truncation(end, backend, baseline):
    unroll_length = 8
    steps = _collect(_env_id(end, backend), 2, unroll_length + 1)  # [B, T+1, ...]
    network = learner.make_network("mlp", 2, hidden_sizes=(8,))
    params = network.init(jax.random.PRNGKey(0), steps["observation"])
    _, values = network.apply(params, steps["observation"])  # [B, T+1]
    config = learner.LearnerConfig(batch_size=2, unroll_length=unroll_length, discount=GAMMA, lambda_=1.0,
                                   baseline=baseline)
    v_tm1, v_t = values[:, :-1], values[:, 1:]
    errors, pg_advantage = make_errors_and_advantages(config)(
        v_tm1, v_t, steps["reward"][:, :-1], GAMMA * steps["discount"][:, :-1], np.ones_like(v_tm1),
        steps["valid"])
    targets = np.asarray(errors + v_tm1)  # [B, T]
    v = np.asarray(values)
    truncated = end == "truncated"
    for first in (0, 4):  # the two episodes: steps 0..2 (o_final at 3) and 4..6 (o_final at 7)
        v_final = v[:, first + LENGTH]
        for t in range(LENGTH):
            expected = sum(GAMMA ** k for k in range(LENGTH - t)) + truncated * GAMMA ** (LENGTH - t) * v_final
            np.testing.assert_allclose(targets[:, first + t], expected, rtol=1e-5, atol=1e-5)
        cut = first + LENGTH - 1
        np.testing.assert_allclose(targets[:, cut], 1.0 + truncated * GAMMA * v_final, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(pg_advantage[:, cut], targets[:, cut] - v[:, cut], rtol=1e-5, atol=1e-5)
    # The autoreset steps carry no error and no advantage.
    np.testing.assert_array_equal(np.asarray(errors)[:, [3, 7]], 0.0)
    np.testing.assert_array_equal(np.asarray(pg_advantage)[:, [3, 7]], 0.0)


@pytest.mark.parametrize("end, backend", CASES)
def test_recurrent_actor_and_learner_reset_the_core_at_the_same_episode_starts(end, backend):
    """The learner's unroll from the stored state reproduces the actor's logits across both kinds of end."""
    network, params, actor, (batch,) = run_recurrent_actor(_env_id(end, backend, frames=True), num_envs=2,
                                                           unroll=4, num_actions=2, num_items=1)
    assert actor.env_frames == 2 * 9  # 12 steps per env, 3 of them autoreset steps
    np.testing.assert_array_equal(batch["valid"], [[True, True, True, False, True]] * 2)  # steps 0..4
    logits, _ = network_outputs(network, params, batch)  # [B, T+1, A]
    np.testing.assert_allclose(logits, batch["behaviour_logits"], rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("end, backend", CASES)
def test_mlp_lstm_actor_stores_the_previous_action_and_reward_the_learner_feeds_back(end, backend):
    """MLP torso + LSTM reading (a_{t-1}, r_{t-1}): zero at episode starts, carried across item starts, and
    the learner's unroll of the stored inputs reproduces the actor's logits."""
    network, params, _, items = run_recurrent_actor(
        _env_id(end, backend), num_envs=2, unroll=2, num_actions=2, num_items=2, kind="mlp",
        observation=((LENGTH + 1,), np.float32), prev_action_reward=True)
    first, second = items  # steps 0..2 and 2..4 of each env: valid T T T F T
    np.testing.assert_array_equal(second["valid"], [[True, False, True]] * 2)
    np.testing.assert_array_equal(first["prev_reward"], [[0.0, 1.0, 1.0]] * 2)  # step 0 starts the episode
    np.testing.assert_array_equal(second["prev_reward"], [[1.0, 1.0, 0.0]] * 2)  # step 4 starts the next one
    np.testing.assert_array_equal(first["prev_action"][:, 1:], first["action"][:, :-1])
    np.testing.assert_array_equal(second["prev_action"][:, 0], first["action"][:, 1])  # from outside the item
    np.testing.assert_array_equal(second["prev_action"][:, 2], 0)
    for batch in items:
        logits, _ = network_outputs(network, params, batch)  # [B, T+1, A]
        np.testing.assert_allclose(logits, batch["behaviour_logits"], rtol=1e-4, atol=1e-4)
    rebuilt_without_step_0 = dict(second, prev_reward=np.where(np.arange(3) == 0, 0.0, second["prev_reward"]))
    logits, _ = network_outputs(network, params, rebuilt_without_step_0)
    assert not np.allclose(logits[:, 0], second["behaviour_logits"][:, 0], atol=1e-4)
