"""A contextual bandit with MultiDiscrete([3, 4]) actions, for the end-to-end test of multi-categorical policies.

Each step shows the wanted choice of each dimension as one-hot blocks (observation
float32 [3 + 4]) and pays the fraction of dimensions chosen right; an episode is 8
steps. A uniformly random policy earns (1/3 + 1/4) / 2 per step, 2.33 per episode;
the best policy earns 8. Importable by gymnasium's `module:EnvId` ids
(`multidiscrete_bandit:VtraxTestMultiDiscreteBandit-v0` with this folder on PYTHONPATH).
"""

import gymnasium as gym
import numpy as np

NVEC = (3, 4)
EPISODE_STEPS = 8
RANDOM_RETURN = EPISODE_STEPS * float(np.mean([1.0 / n for n in NVEC]))


class MultiDiscreteBandit(gym.Env):
    """Observation float32 [sum(NVEC)]: one-hot wanted choices; action int [len(NVEC)]."""

    def __init__(self):
        self.observation_space = gym.spaces.Box(0.0, 1.0, (sum(NVEC),), np.float32)
        self.action_space = gym.spaces.MultiDiscrete(NVEC)
        self._wanted = np.zeros(len(NVEC), np.int64)
        self._steps = 0

    def _observe(self) -> np.ndarray:
        self._wanted = np.array([self.np_random.integers(n) for n in NVEC])
        blocks = [np.eye(n, dtype=np.float32)[wanted] for n, wanted in zip(NVEC, self._wanted)]
        return np.concatenate(blocks)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self._steps = 0
        return self._observe(), {}

    def step(self, action):
        reward = float(np.mean(np.asarray(action) == self._wanted))
        self._steps += 1
        return self._observe(), reward, self._steps >= EPISODE_STEPS, False, {}


gym.register("VtraxTestMultiDiscreteBandit-v0", entry_point=MultiDiscreteBandit)
