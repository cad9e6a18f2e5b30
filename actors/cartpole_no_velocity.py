"""`vtrax/CartPoleNoVelocity-v1`: CartPole-v1 with the two velocities hidden, a partially observed task.

The agent sees [cart position, pole angle] (float32 [2]) instead of CartPole's
[position, velocity, angle, angular velocity]; dynamics, rewards, the 500-step
time limit and the 475 "solved" level are CartPole-v1's. One observation does not
tell which way the pole is moving, so a feed-forward (memoryless) policy balances
it only briefly, while a recurrent agent can infer the velocities from the
observations it has seen (differences of consecutive positions and angles).
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np

CARTPOLE_NO_VELOCITY_ID = "vtrax/CartPoleNoVelocity-v1"
VISIBLE = (0, 2)  # cart position, pole angle: indices into CartPole's observation


class HideVelocities(gym.ObservationWrapper):
    """CartPole's observation [4] -> [position, angle] float32 [2]."""

    def __init__(self, env: gym.Env):
        super().__init__(env)
        space = env.observation_space
        self.observation_space = gym.spaces.Box(low=space.low[list(VISIBLE)], high=space.high[list(VISIBLE)],
                                                dtype=np.float32)

    def observation(self, observation):
        return np.asarray(observation, np.float32)[list(VISIBLE)]


def _make(**kwargs) -> gym.Env:
    return HideVelocities(gym.make("CartPole-v1", **kwargs))


def register_cartpole_no_velocity() -> None:
    """Register `vtrax/CartPoleNoVelocity-v1` (idempotent)."""
    if CARTPOLE_NO_VELOCITY_ID not in gym.registry:
        gym.register(CARTPOLE_NO_VELOCITY_ID, entry_point=_make)
