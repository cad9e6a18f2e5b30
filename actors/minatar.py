"""MinAtar games as gymnasium ids `MinAtar/<Game>-v0` (all 6 actions) and `-v1` (the game's minimal set).

MinAtar (Young & Tian 2019, "MinAtar: An Atari-Inspired Testbed for Thorough and
Reproducible Reinforcement Learning Experiments", https://arxiv.org/abs/1903.03176)
re-implements five Atari games on a 10x10 grid with one binary channel per object
kind: Asterix (4 channels), Breakout (4), Freeway (7), Seaquest (10),
SpaceInvaders (6). Defaults are the paper's: sticky actions with probability 0.1
and difficulty ramping.

The `minatar` package registers its ids through gymnasium's plugin entry point,
which gymnasium 1.x no longer runs, so vtrax registers them itself
(`register_minatar_envs`). Observations are uint8 [10, 10, C] with values 0/1:
the game's bool grid viewed as uint8 (no copy; bool and uint8 are both one byte),
so replay stores one byte per cell and the network casts to float once.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np

from vtrax.actors.errors import EnvironmentSetupError

MINATAR_PREFIX = "MinAtar/"
GAMES = {"Asterix": "asterix", "Breakout": "breakout", "Freeway": "freeway", "Seaquest": "seaquest",
         "SpaceInvaders": "space_invaders"}
"""Gymnasium name -> minatar's module name."""
VERSIONS = {"v0": False, "v1": True}
"""Id version -> whether the action space is the game's minimal action set."""
GRID_SIZE = 10


class MinAtarEnv(gym.Env):
    """One MinAtar game: observation uint8 [10, 10, C] (0/1), Discrete actions, the game's own rewards.

    Episodes end by termination only (the games have no time limit of their own;
    Freeway ends itself after 2500 steps).
    """

    metadata = {"render_modes": []}

    def __init__(self, game: str, minimal_action_set: bool = True, sticky_action_prob: float = 0.1,
                 difficulty_ramping: bool = True):
        from minatar import Environment  # NOTE: imports matplotlib and seaborn (~1 s): only when a game is built

        self._game = Environment(game, sticky_action_prob=sticky_action_prob,
                                 difficulty_ramping=difficulty_ramping)
        self._actions = (list(self._game.minimal_action_set()) if minimal_action_set
                         else list(range(self._game.num_actions())))
        self.action_space = gym.spaces.Discrete(len(self._actions))
        self.observation_space = gym.spaces.Box(0, 1, shape=tuple(self._game.state_shape()), dtype=np.uint8)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        if seed is not None:
            self._game.seed(seed)
        self._game.reset()
        return self._observation(), {}

    def step(self, action):
        reward, terminated = self._game.act(self._actions[int(action)])
        return self._observation(), float(reward), bool(terminated), False, {}

    def _observation(self) -> np.ndarray:
        """The game's bool [10, 10, C] grid as uint8 0/1, without copying."""
        return self._game.state().view(np.uint8)


def is_minatar(env_id: str) -> bool:
    return env_id.startswith(MINATAR_PREFIX)


def register_minatar_envs() -> None:
    """Register `MinAtar/<Game>-v0` and `-v1` for the five games (idempotent)."""
    for name, game in GAMES.items():
        for version, minimal in VERSIONS.items():
            env_id = f"{MINATAR_PREFIX}{name}-{version}"
            if env_id not in gym.registry:
                gym.register(env_id, entry_point=MinAtarEnv, kwargs={"game": game, "minimal_action_set": minimal})


def check_minatar_id(env_id: str) -> None:
    """Raise EnvironmentSetupError in one sentence unless `env_id` names one of the five games.

    Raises:
      EnvironmentSetupError: e.g. for 'MinAtar/Pong-v1', listing the five valid ids.
    """
    name, _, version = env_id[len(MINATAR_PREFIX):].rpartition("-")
    if name in GAMES and version in VERSIONS:
        return
    known = ", ".join(f"{MINATAR_PREFIX}{game}-v1" for game in GAMES)
    raise EnvironmentSetupError(f"unknown MinAtar game {env_id!r}; MinAtar has five games: {known} "
                                "(-v0 for all 6 actions instead of the game's minimal set)")
