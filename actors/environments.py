"""Environment construction from a gymnasium id: classic control as is, Atari preprocessed, MinAtar registered.

vtrax's own ids (`vtrax/TMaze-v0`, actors/tmaze.py; `vtrax/CartPoleNoVelocity-v1`,
actors/cartpole_no_velocity.py) and MinAtar's are registered on first use.

Atari (`ALE/...-v5`) gets the standard IMPALA/DQN preprocessing: the emulator's own
frame skip is turned off and `AtariPreprocessing` does 30 no-op starts, a frame skip
of 4 with max-pooling, 84x84 grayscale; `FrameStackObservation` stacks 4 frames and
`FramesLast` moves the stack axis last, giving uint8 [84, 84, 4]. Rewards stay
unclipped (the learner clips), so episode statistics are the game's score.
"""

from __future__ import annotations

from dataclasses import dataclass

import gymnasium as gym
import numpy as np

from vtrax.actors.errors import EnvironmentSetupError
from vtrax.actors.cartpole_no_velocity import register_cartpole_no_velocity
from vtrax.actors.minatar import check_minatar_id, is_minatar, register_minatar_envs
from vtrax.actors.tmaze import VTRAX_ENV_PREFIX, register_tmaze

ATARI_PREFIX = "ALE/"
ATARI_FRAME_SHAPE = (84, 84, 4)
ATARI_FRAME_SKIP = 4


def frames_per_step(env_id: str) -> int:
    """Emulator frames per agent step: 4 for Atari (frame skip, as IMPALA counts frames), 1 otherwise."""
    return ATARI_FRAME_SKIP if env_id.startswith(ATARI_PREFIX) else 1


@dataclass(frozen=True)
class EnvSpec:
    """What the networks and replay tables need to know about an environment."""

    env_id: str
    observation_shape: tuple[int, ...]
    observation_dtype: np.dtype
    num_actions: int
    """Discrete: the number of actions A; Box and MultiDiscrete: the number of action dimensions D."""
    action_low: tuple[float, ...] | None = None
    """Box actions only: the lower bounds [D] (None for Discrete)."""
    action_high: tuple[float, ...] | None = None
    """Box actions only: the upper bounds [D] (None for Discrete)."""
    action_nvec: tuple[int, ...] | None = None
    """MultiDiscrete actions only: the number of choices of each dimension [D] (None otherwise)."""

    @property
    def is_continuous(self) -> bool:
        """Whether actions are real vectors (a bounded Box) rather than Discrete indices."""
        return self.action_low is not None

    @property
    def is_multi_discrete(self) -> bool:
        """Whether an action is D independent choices (a MultiDiscrete space) rather than one index."""
        return self.action_nvec is not None

    @property
    def frames_per_step(self) -> int:
        """Emulator frames per agent step: 4 for Atari (frame skip), 1 otherwise."""
        return frames_per_step(self.env_id)

    @property
    def is_image(self) -> bool:
        return len(self.observation_shape) == 3


class FramesLast(gym.ObservationWrapper):
    """[stack, H, W] frame stacks -> [H, W, stack], the layout the IMPALA torso takes."""

    def __init__(self, env: gym.Env):
        super().__init__(env)
        space = env.observation_space
        self.observation_space = gym.spaces.Box(
            low=np.moveaxis(space.low, 0, -1), high=np.moveaxis(space.high, 0, -1), dtype=space.dtype)

    def observation(self, observation):
        return np.moveaxis(np.asarray(observation), 0, -1)


def make_env(env_id: str, *, seed: int | None = None) -> gym.Env:
    """One environment, preprocessed for vtrax; raises EnvironmentSetupError with the fix."""
    if env_id.startswith(ATARI_PREFIX):
        env = _make_atari(env_id)
    elif is_minatar(env_id):
        check_minatar_id(env_id)
        register_minatar_envs()
        env = _gym_make(env_id)
    else:
        if env_id.startswith(VTRAX_ENV_PREFIX):
            register_tmaze()
            register_cartpole_no_velocity()
        env = _gym_make(env_id)
    _check_spaces(env_id, env)
    if seed is not None:
        env.action_space.seed(seed)
    return env


def env_spec(env_id: str) -> EnvSpec:
    """Build one environment to read its spaces, validating the id on the way."""
    env = make_env(env_id)
    try:
        space, actions = env.observation_space, env.action_space
        if isinstance(actions, gym.spaces.Box):
            return EnvSpec(env_id, tuple(space.shape), np.dtype(space.dtype), int(actions.shape[0]),
                           tuple(float(x) for x in actions.low), tuple(float(x) for x in actions.high))
        if isinstance(actions, gym.spaces.MultiDiscrete):
            return EnvSpec(env_id, tuple(space.shape), np.dtype(space.dtype), int(actions.shape[0]),
                           action_nvec=tuple(int(n) for n in actions.nvec))
        return EnvSpec(env_id, tuple(space.shape), np.dtype(space.dtype), int(actions.n))
    finally:
        env.close()


def _gym_make(env_id: str, **kwargs) -> gym.Env:
    try:
        return gym.make(env_id, **kwargs)
    except gym.error.NameNotFound as error:
        raise EnvironmentSetupError(
            f"unknown environment id {env_id!r} ({error}); use a registered gymnasium id such as "
            "'CartPole-v1' or 'ALE/Pong-v5'") from None
    except gym.error.Error as error:
        raise EnvironmentSetupError(f"cannot create environment {env_id!r}: {error}") from None


def _make_atari(env_id: str) -> gym.Env:
    try:
        import ale_py
    except ImportError as error:
        raise EnvironmentSetupError(
            f"{env_id} needs ale-py, which does not import ({error}); reinstall with `make install`") from None
    gym.register_envs(ale_py)
    try:
        env = _gym_make(env_id, frameskip=1, full_action_space=False)
    except EnvironmentSetupError:
        raise
    except Exception as error:  # noqa: BLE001 - ALE raises its own types for missing ROMs
        raise EnvironmentSetupError(
            f"cannot load the ROM for {env_id} ({error}); ale-py >= 0.9 ships the ROMs: "
            "run `vtrax doctor` and reinstall ale-py with `make install`") from None
    env = gym.wrappers.AtariPreprocessing(env, noop_max=30, frame_skip=ATARI_FRAME_SKIP, screen_size=84,
                                          grayscale_obs=True, terminal_on_life_loss=False)
    env = gym.wrappers.FrameStackObservation(env, 4)
    return FramesLast(env)


def to_env_action(space: gym.Space, action: np.ndarray):
    """An action as the env takes it: an int for Discrete; for Box the raw Gaussian sample [D]
    (or a batch [E, D]) clipped to the bounds (clipping happens here only: the stored action stays raw);
    for MultiDiscrete the indices [D] (or [E, D]) shifted by the space's `start`."""
    if isinstance(space, gym.spaces.Box):
        return np.clip(np.asarray(action, space.dtype), space.low, space.high)
    if isinstance(space, gym.spaces.MultiDiscrete):
        return np.asarray(action, space.dtype) + space.start
    return int(action)


def _check_spaces(env_id: str, env: gym.Env) -> None:
    actions = env.action_space
    if isinstance(actions, gym.spaces.Box):
        if len(actions.shape) != 1:
            raise EnvironmentSetupError(
                f"{env_id} has action space {actions}; vtrax's Gaussian policies take a flat Box of rank 1 "
                "(register a wrapped version with flat actions, or choose another env)")
        if not (np.all(np.isfinite(actions.low)) and np.all(np.isfinite(actions.high))):
            raise EnvironmentSetupError(
                f"{env_id} has an unbounded Box action space {actions}, but vtrax clips Gaussian actions to the "
                "bounds; register a version with finite bounds (gymnasium.wrappers.RescaleAction or ClipAction on a "
                "Box with finite low/high) and pass its id")
    elif isinstance(actions, gym.spaces.MultiDiscrete):
        if len(actions.shape) != 1:
            raise EnvironmentSetupError(
                f"{env_id} has a MultiDiscrete action space of shape {actions.shape}; vtrax's multi-categorical "
                "policy takes a MultiDiscrete of rank 1 (register a wrapped version with a flat nvec, or choose "
                "another env)")
    elif not isinstance(actions, gym.spaces.Discrete):
        raise EnvironmentSetupError(
            f"{env_id} has action space {actions}; vtrax's agents take a Discrete, MultiDiscrete or bounded Box "
            "action space (MultiDiscrete and Box: --agent impala only); choose such an environment, such as "
            "CartPole-v1 or Pendulum-v1")
    space = env.observation_space
    vector_ok = isinstance(space, gym.spaces.Box) and len(space.shape) == 1
    frames_ok = isinstance(space, gym.spaces.Box) and tuple(space.shape) == ATARI_FRAME_SHAPE
    minatar_ok = is_minatar(env_id) and isinstance(space, gym.spaces.Box) and len(space.shape) == 3
    if not (vector_ok or frames_ok or minatar_ok):
        raise EnvironmentSetupError(
            f"{env_id} has observation space {space}; vtrax supports flat vector observations "
            f"(Box of rank 1), Atari frames {ATARI_FRAME_SHAPE} from ALE/...-v5 ids and MinAtar/...-v1 grids")
