"""Vectorised stepping of `num_envs` environments with episode statistics and fault recovery.

Two backends share one interface, `reset() -> obs [E, ...]` and `step(actions [E] or [E, D]) ->
(obs [E, ...], reward [E], terminated [E], truncated [E], valid [E], crashed [E])`, and
one timeline: gymnasium's *next-step* autoreset.

- `_NativeVector`: gymnasium's own numpy-vectorised env where the id has a vector entry
  point (CartPole: ~4x faster than stepping 16 envs in Python). It autoresets itself.
- `_EnvList`: a Python list of single envs (Atari, everything else). It defers each
  reset by one step to follow the same timeline: the step that ends an episode returns
  the episode's final observation (what `env.step` returned, before any reset), and the
  next call resets that env instead of stepping it.

Timeline of one env around an episode end, as the actor records it (step t holds the
observation acted on, and what `step` returned for it):

    step   observation        action     reward  discount  valid
    t      o_t                a_t        r_t     0 | 1     True    terminated | truncated
    t+1    o_final            ignored    0       0         False   the autoreset step
    t+2    o'_0 (new episode) a'_0       r'_0    ...       True

- Termination: `discount_t = 0`; nothing is bootstrapped from o_final.
- Truncation (a time limit): `discount_t = 1`, so the target of step t bootstraps from
  V(o_final), the observation stored at step t+1.
- The autoreset step t+1 is no transition of the environment: `valid = False` and
  `discount = 0` (the new episode's values must not flow back), it counts no frames, and
  the learner masks it out of every loss term. The observation it returns (o'_0) starts
  an episode, so a recurrent core resets after every invalid step.
- An env that raises is rebuilt and reset; that step is invalid too, returns the new
  episode's first observation, and its cut episode is not reported.
"""

from __future__ import annotations

import functools
import logging
from typing import NamedTuple

import gymnasium as gym
import numpy as np

from vtrax.actors.environments import ATARI_PREFIX, frames_per_step, make_env, to_env_action

log = logging.getLogger(__name__)


class VectorStep(NamedTuple):
    """What one vector step returns to the actor.

    observation: [E, ...] the next observation: an episode's final one after it ended,
      a new episode's first after an invalid step.
    reward: [E] float32, the reward of the transition just taken (unclipped).
    discount: [E] float32, 0.0 where the transition terminated the episode or was invalid;
      1.0 otherwise, a time-limit truncation included (its target bootstraps).
    valid: [E] bool, False for autoreset steps and env crashes (no real env transition).
    """

    observation: np.ndarray
    reward: np.ndarray
    discount: np.ndarray
    valid: np.ndarray


class _NativeVector:
    """gymnasium's vector entry point (next-step autoreset)."""

    def __init__(self, env_id: str, num_envs: int, seed: int):
        self._env_id, self._num_envs, self._seed = env_id, num_envs, seed
        self._env = gym.make_vec(env_id, num_envs=num_envs, vectorization_mode="vector_entry_point")
        self._ending = np.zeros(num_envs, dtype=bool)
        space = self._env.single_action_space
        # Box and MultiDiscrete: to_env_action maps a whole [E, D] batch at once (bounds, starts broadcast).
        self._env_actions = (functools.partial(to_env_action, space)
                             if isinstance(space, (gym.spaces.Box, gym.spaces.MultiDiscrete))
                             else (lambda actions: actions.astype(np.int64)))
        self._no_crash = np.zeros(num_envs, dtype=bool)  # read-only: returned by every step that did not raise
        self.env_errors = 0

    def reset(self) -> np.ndarray:
        self._ending[:] = False
        observation, _ = self._env.reset(seed=self._seed)
        return observation

    def step(self, actions: np.ndarray):
        try:
            observation, reward, terminated, truncated, _ = self._env.step(self._env_actions(actions))
        except Exception as error:  # noqa: BLE001 - any env fault: rebuild and end every episode
            self.env_errors += 1
            log.warning("environment %s raised %r; rebuilt it and ended its episodes", self._env_id, error)
            self._env.close()
            self._seed += 1
            self._env = gym.make_vec(self._env_id, num_envs=self._num_envs, vectorization_mode="vector_entry_point")
            observation = self.reset()
            ended = np.ones(self._num_envs, dtype=bool)
            return observation, np.zeros(self._num_envs, np.float32), ended, ended, ~ended, ended
        valid = ~self._ending
        self._ending = terminated | truncated
        return observation, reward, terminated, truncated, valid, self._no_crash

    def close(self) -> None:
        self._env.close()


class _EnvList:
    """A list of single environments stepped in Python, with next-step autoreset.

    NOTE: resetting in the same step would lose the final observation that a truncated
    episode bootstraps from; deferring the reset keeps it and matches `_NativeVector`.
    """

    def __init__(self, env_id: str, num_envs: int, seed: int):
        self._env_id, self._seed = env_id, seed
        self._envs = [make_env(env_id, seed=seed + index) for index in range(num_envs)]
        self._ending = np.zeros(num_envs, dtype=bool)
        self.env_errors = 0

    def reset(self) -> np.ndarray:
        self._ending[:] = False
        return np.stack([env.reset(seed=self._seed + index)[0] for index, env in enumerate(self._envs)])

    def step(self, actions: np.ndarray):
        results = [self._step_one(index, action) for index, action in enumerate(actions)]
        observation, reward, terminated, truncated, crashed = zip(*results)
        terminated, truncated, crashed = np.asarray(terminated), np.asarray(truncated), np.asarray(crashed)
        valid = ~(self._ending | crashed)
        self._ending = (terminated | truncated) & ~crashed
        return np.stack(observation), np.asarray(reward, np.float32), terminated, truncated, valid, crashed

    def _step_one(self, index: int, action: np.ndarray):
        """(observation, reward, terminated, truncated, crashed) of env `index`; resets it if its episode ended."""
        env = self._envs[index]
        try:
            if self._ending[index]:
                return env.reset()[0], 0.0, False, False, False
            observation, reward, terminated, truncated, _ = env.step(to_env_action(env.action_space, action))
            return observation, float(reward), bool(terminated), bool(truncated), False
        except Exception as error:  # noqa: BLE001 - an env that raises is rebuilt, not fatal
            self.env_errors += 1
            log.warning("environment %s #%d raised %r; rebuilt it and ended its episode", self._env_id, index, error)
            self._envs[index] = make_env(self._env_id, seed=self._seed + 1000 * self.env_errors + index)
            observation, _ = self._envs[index].reset()
            return observation, 0.0, True, False, True

    def close(self) -> None:
        for env in self._envs:
            env.close()


class VectorEnv:
    """`num_envs` environments stepped together, with per-episode return and length."""

    def __init__(self, env_id: str, num_envs: int, *, seed: int = 0):
        if num_envs < 1:
            raise ValueError(f"num_envs must be >= 1, got {num_envs}")
        native = not env_id.startswith(ATARI_PREFIX) and _has_vector_entry_point(env_id)
        self._backend = (_NativeVector if native else _EnvList)(env_id, num_envs, seed)
        self.num_envs = num_envs
        self.frames_per_step = frames_per_step(env_id)
        """Emulator frames per agent step (4 on Atari: frame skip), what `env_frames` counts."""
        self._episode_return = np.zeros(num_envs, np.float64)
        self._episode_length = np.zeros(num_envs, np.int64)
        self._finished: list[tuple[float, int]] = []

    @property
    def env_errors(self) -> int:
        """How many times an environment raised and was rebuilt."""
        return self._backend.env_errors

    def reset(self) -> np.ndarray:
        self._episode_return[:] = 0.0
        self._episode_length[:] = 0
        return self._backend.reset()

    def step(self, actions: np.ndarray) -> VectorStep:
        observation, reward, terminated, truncated, valid, crashed = self._backend.step(actions)
        ended = terminated | truncated
        self._episode_return += np.where(valid, reward, 0.0)
        self._episode_length += valid
        # NOTE: an episode cut short by an env that raised is ended (invalid step) but not
        # reported: its partial return would drag the mean return down.
        for index in np.flatnonzero(ended & valid & ~crashed):
            self._finished.append((float(self._episode_return[index]), int(self._episode_length[index])))
        self._episode_return[ended] = 0.0
        self._episode_length[ended] = 0
        # Truncation keeps discount 1: its target bootstraps from the final observation.
        discount = np.where(terminated | ~valid, 0.0, 1.0).astype(np.float32)
        return VectorStep(observation, np.asarray(reward, np.float32), discount, valid)

    def pop_episodes(self) -> list[tuple[float, int]]:
        """(return, length) of every episode finished since the last call."""
        finished, self._finished = self._finished, []
        return finished

    def close(self) -> None:
        self._backend.close()


def _has_vector_entry_point(env_id: str) -> bool:
    try:
        return gym.spec(env_id).vector_entry_point is not None
    except gym.error.Error:
        return False
