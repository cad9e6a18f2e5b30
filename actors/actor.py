"""The actor core: step envs with the current policy, write unrolls, refresh parameters.

The class owns only counters and its collaborators; the numerics live in
`select_action` (pure, jitted). It knows nothing about Ray: the launcher hands it a
parameter source and an adder (Acme's actor/launcher split).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Protocol

import jax
import numpy as np

from vtrax.actors.policy import ActionChoice
from vtrax.replay.specs import CORE_STATE_PREFIX
from vtrax.actors.vector_env import VectorEnv


class ParameterSource(Protocol):
    """Where an actor gets parameters from."""

    def latest(self) -> tuple[int, Any] | None:
        """The newest (version, params) if newer than the last one returned; never blocks."""

    def wait_first(self, timeout_s: float) -> tuple[int, Any]:
        """Block until the first parameters are available."""


class Adder(Protocol):
    """Where an actor writes its steps (replay.SequenceAdder)."""

    def append(self, step: dict[str, np.ndarray]) -> None: ...

    def close(self) -> None: ...


class NullAdder:
    """An `Adder` that writes nothing: the evaluator acts without feeding replay."""

    def append(self, step: dict[str, np.ndarray]) -> None:
        del step

    def close(self) -> None:
        """Nothing to release."""


@dataclass(frozen=True)
class ActorConfig:
    """How one actor acts."""

    unroll_length: int = 20
    """Steps per unroll; parameters are only swapped between unrolls."""
    param_refresh_period_unrolls: int = 1
    """Check for newer parameters every this many unrolls (the check never blocks)."""
    seed: int = 0
    """Seeds the envs and the action sampler."""

    def __post_init__(self):
        if self.unroll_length < 1:
            raise ValueError(f"unroll_length must be >= 1, got {self.unroll_length}")
        if self.param_refresh_period_unrolls < 1:
            raise ValueError(f"param_refresh_period_unrolls must be >= 1, got {self.param_refresh_period_unrolls}")


class Actor:
    """Runs unrolls of a VectorEnv until told to stop; counts everything it does."""

    def __init__(self, env: VectorEnv, select_action: Callable[..., ActionChoice], adder: Adder,
                 params_source: ParameterSource, config: ActorConfig, *, first_params_timeout_s: float = 300.0,
                 initial_core_state: dict[str, np.ndarray] | None = None):
        """`initial_core_state` ({name: [E, H]}) makes the actor recurrent: `select_action` then takes
        `core_state=`, `should_reset=`, `prev_action=` and `prev_reward=`, and every step stores
        `core_state/<name>`, `prev_action` and `prev_reward` (what the policy was fed)."""
        self._env, self._select_action, self._adder = env, select_action, adder
        self._core_state = initial_core_state
        self._should_reset = np.zeros(env.num_envs, bool)
        self._prev_action = np.zeros(env.num_envs, np.int32)  # a_{t-1}, 0 at episode starts
        self._prev_reward = np.zeros(env.num_envs, np.float32)  # r_{t-1}, 0 at episode starts
        self._params_source, self._config = params_source, config
        self._rng_key = jax.random.PRNGKey(config.seed)
        self._version, params = params_source.wait_first(first_params_timeout_s)
        self._params = jax.device_put(params)
        self._observation = env.reset()
        self._steps = 0
        self._unrolls = 0
        self.env_frames = 0
        self.param_updates = 0
        self.seconds = {"env": 0.0, "inference": 0.0, "adder": 0.0, "params": 0.0}
        self._episodes: list[tuple[float, int]] = []
        self._lock = threading.Lock()

    @property
    def param_version(self) -> int:
        return self._version

    def run(self, stop_event: threading.Event, max_unrolls: int | None = None) -> None:
        """Unroll until `stop_event` is set (checked between unrolls) or `max_unrolls` ran."""
        while not stop_event.is_set() and (max_unrolls is None or self._unrolls < max_unrolls):
            self.run_unroll()

    def run_unroll(self) -> None:
        """`unroll_length` vector steps, then a non-blocking parameter refresh if due."""
        for _ in range(self._config.unroll_length):
            self._act_once()
        self._unrolls += 1
        if self._unrolls % self._config.param_refresh_period_unrolls == 0:
            self._refresh_params()
        with self._lock:
            self._episodes.extend(self._env.pop_episodes())

    def _act_once(self) -> None:
        clock = time.perf_counter()
        step_index = self._steps % (2**31)
        if self._core_state is None:
            choice = self._select_action(self._params, self._observation, self._rng_key, step_index)
        else:
            choice = self._select_action(self._params, self._observation, self._rng_key, step_index,
                                         core_state=self._core_state, should_reset=self._should_reset,
                                         prev_action=self._prev_action, prev_reward=self._prev_reward)
        clock = self._tick("inference", clock)
        transition = self._env.step(choice.action)
        clock = self._tick("env", clock)
        step = {
            "observation": self._observation,
            "action": choice.action,
            "reward": transition.reward,
            "discount": transition.discount,
            "valid": transition.valid,
            "behaviour_logits": choice.logits,
            "param_version": np.full(self._env.num_envs, self._version, np.int32),
        }
        if self._core_state is not None:
            # NOTE: the state this step acted from; the learner unrolls each item from its first one.
            step.update({CORE_STATE_PREFIX + name: value for name, value in choice.core_state.items()})
            step.update(prev_action=self._prev_action, prev_reward=self._prev_reward)
            self._core_state = choice.next_core_state
            # An invalid step (autoreset or crash) returns a new episode's first observation,
            # after a termination and a truncation alike (see vector_env's timeline).
            self._should_reset = ~transition.valid
            self._prev_action = np.where(transition.valid, choice.action, 0).astype(np.int32)
            self._prev_reward = np.where(transition.valid, transition.reward, 0.0).astype(np.float32)
        self._adder.append(step)
        self._tick("adder", clock)
        self._observation = transition.observation
        self._steps += 1
        self.env_frames += int(transition.valid.sum()) * self._env.frames_per_step

    def _refresh_params(self) -> None:
        clock = time.perf_counter()
        newer = self._params_source.latest()
        if newer is not None:
            self._version, params = newer
            self._params = jax.device_put(params)
            self.param_updates += 1
        self._tick("params", clock)

    def _tick(self, stage: str, since: float) -> float:
        now = time.perf_counter()
        self.seconds[stage] += now - since
        return now

    def stats(self) -> dict[str, Any]:
        """Cumulative counters plus the episodes finished since the last call (drained)."""
        with self._lock:
            episodes, self._episodes = self._episodes, []
        return {
            "env_frames": self.env_frames,
            "unrolls": self._unrolls,
            "param_version": self._version,
            "param_updates": self.param_updates,
            "env_errors": self._env.env_errors,
            "seconds": dict(self.seconds),
            "episodes": episodes,
        }
