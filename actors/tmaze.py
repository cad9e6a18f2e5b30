"""`vtrax/TMaze-v0`: a memory task that no feed-forward (memoryless) policy can solve.

A T-maze in the spirit of Bakker 2001, "Reinforcement Learning with Long Short-Term
Memory" (https://papers.nips.cc/paper/1953): a cue is shown at the first step
only; after `delay_steps` blank corridor steps the agent stands at the junction
and must turn towards the side the cue named.

    step   observation [cue_left, cue_right, at_junction]   reward
    0      [1, 0, 0] or [0, 1, 0]  (the cue, 50/50)          0
    1..D   [0, 0, 0]               (corridor; actions moot)  0
    D+1    [0, 0, 1]               (junction)                +1 if the action is the cue's side
                                                             (0 = left, 1 = right), else -1; terminates

Every episode lasts D + 2 steps and its return is +1 or -1.

Best memoryless policy: its action at the junction can depend only on the
junction's observation, which is the same whichever cue was shown, so it turns
left with some probability p whatever the cue. With the cue uniform, its expected
return is 0.5 (2p - 1) + 0.5 (1 - 2p) = 0 for every p: no memoryless policy,
stochastic or not, beats 0. A policy that remembers the cue gets +1 every episode.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np

TMAZE_ID = "vtrax/TMaze-v0"
VTRAX_ENV_PREFIX = "vtrax/"
LEFT, RIGHT = 0, 1
DEFAULT_DELAY_STEPS = 8
OBSERVATION_SIZE = 3  # cue_left, cue_right, at_junction


class TMazeEnv(gym.Env):
    """Observation float32 [3]; Discrete(2) actions (0 = left, 1 = right); return +1 or -1 per episode."""

    metadata = {"render_modes": []}

    def __init__(self, delay_steps: int = DEFAULT_DELAY_STEPS):
        if isinstance(delay_steps, bool) or not isinstance(delay_steps, int) or delay_steps < 0:
            raise ValueError(f"TMazeEnv delay_steps must be an int >= 0, got {delay_steps!r}")
        self.delay_steps = delay_steps
        self.action_space = gym.spaces.Discrete(2)
        self.observation_space = gym.spaces.Box(0.0, 1.0, shape=(OBSERVATION_SIZE,), dtype=np.float32)
        self._cue, self._step = LEFT, 0

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self._cue, self._step = int(self.np_random.integers(2)), 0
        return self._observation(), {}

    def step(self, action):
        at_junction = self._step == self.delay_steps + 1
        if at_junction:
            reward = 1.0 if int(action) == self._cue else -1.0
            return self._observation(), reward, True, False, {}
        self._step += 1
        return self._observation(), 0.0, False, False, {}

    def _observation(self) -> np.ndarray:
        """[cue_left, cue_right, at_junction] at the current step."""
        observation = np.zeros(OBSERVATION_SIZE, np.float32)
        if self._step == 0:
            observation[self._cue] = 1.0
        if self._step == self.delay_steps + 1:
            observation[2] = 1.0
        return observation


def register_tmaze() -> None:
    """Register `vtrax/TMaze-v0` (idempotent)."""
    if TMAZE_ID not in gym.registry:
        gym.register(TMAZE_ID, entry_point=TMazeEnv)
