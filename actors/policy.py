"""The acting policy: pure `select_action` built from the agent network's `apply`.

`apply(params, observation [T, B, ...]) -> (logits [T, B, A], value [T, B])` is the
same function the learner differentiates; acting runs it at T=1 on the actor's CPU.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

ApplyFn = Callable[..., tuple[jax.Array, jax.Array]]


class ActionChoice(NamedTuple):
    """action: int32 [E] (Discrete) or float32 [E, D] (Box: the raw sample, unclipped);
    logits: float32 [E, P], the behaviour policy's output (logits or Gaussian parameters, for V-trace).

    Recurrent policies also return `core_state`, the state each env acted from
    (after the reset at an episode start; what the trajectory stores), and
    `next_core_state`, the state to act from at the next step ({name: [E, H]}).
    """

    action: np.ndarray
    logits: np.ndarray
    core_state: dict[str, np.ndarray] | None = None
    next_core_state: dict[str, Any] | None = None


def _sample_categorical(key: jax.Array, logits: jax.Array) -> jax.Array:
    return jax.random.categorical(key, logits, axis=-1)


def _argmax(logits: jax.Array) -> jax.Array:
    return jnp.argmax(logits, axis=-1)


def make_select_action(apply_fn: ApplyFn, *, greedy: bool = False,
                       distribution: Any = None) -> Callable[..., ActionChoice]:
    """A jitted `select_action(params, observation [E, ...], rng_key, step) -> ActionChoice`.

    `step` is folded into `rng_key` inside the jitted function, so the caller passes
    one key for its lifetime and an increasing counter, and no key splitting runs
    on the host per step. `distribution` (`learner.action_distribution(network.description)`)
    turns the policy output into actions; None is the categorical one. `greedy` takes
    its mode (argmax, or a Gaussian's mean) instead of sampling.
    """
    categorical = distribution is None
    sample = _sample_categorical if categorical else distribution.sample
    mode = _argmax if categorical else distribution.mode
    action_dtype = jnp.int32 if categorical else distribution.action_dtype

    @jax.jit
    def select(params: Any, observation: jax.Array, rng_key: jax.Array, step: jax.Array):
        logits, _ = apply_fn(params, observation[None])
        logits = logits[0]  # [E, P]
        if greedy:
            action = mode(logits)  # [E] or [E, D]
        else:
            action = sample(jax.random.fold_in(rng_key, step), logits)  # [E] or [E, D]
        return action.astype(action_dtype), logits.astype(jnp.float32)

    def select_action(params: Any, observation: np.ndarray, rng_key: jax.Array, step: int) -> ActionChoice:
        action, logits = jax.device_get(select(params, observation, rng_key, np.int32(step)))
        return ActionChoice(action, logits)

    return select_action


def make_recurrent_select_action(unroll_fn: Callable[..., Any], initial_state_fn: Callable[[int], Any], *,
                                 greedy: bool = False) -> Callable[..., ActionChoice]:
    """A jitted recurrent `select_action(params, observation [E, ...], rng_key, step, *, core_state,
    should_reset [E], prev_action [E], prev_reward [E]) -> ActionChoice` with `core_state` and
    `next_core_state` set.

    Where `should_reset` is set (the env's previous step ended an episode) the env
    acts from the initial state, as the learner's unroll resets it there; the
    state acted from is returned so the trajectory can store it. `prev_action`
    (int) and `prev_reward` are a_{t-1} and r_{t-1}, which the caller zeroes at
    episode starts and stores as given (networks without those inputs ignore them).

    Args:
      unroll_fn: `unroll(params, observation [T, E, ...], should_reset [T, E], core_state)
        -> ((logits [T, E, A], value [T, E]), next_core_state)`.
      initial_state_fn: `initial_state(batch_size) -> {name: [batch_size, H]}`.
      greedy: argmax instead of sampling.
    """

    @jax.jit
    def select(params, observation, core_state, should_reset, prev_action, prev_reward, rng_key, step):
        initial = initial_state_fn(observation.shape[0])
        state_in = jax.tree_util.tree_map(
            lambda first, current: jnp.where(should_reset[:, None], first, current), initial, core_state)
        no_reset = jnp.zeros((1, observation.shape[0]), bool)  # [1, E]: the reset is already in state_in
        (logits, _), next_state = unroll_fn(params, observation[None], no_reset, state_in, prev_action[None],
                                            prev_reward[None])
        logits = logits[0]  # [E, A]
        if greedy:
            action = jnp.argmax(logits, axis=-1)
        else:
            action = jax.random.categorical(jax.random.fold_in(rng_key, step), logits, axis=-1)
        return action.astype(jnp.int32), logits.astype(jnp.float32), state_in, next_state

    def select_action(params: Any, observation: np.ndarray, rng_key: jax.Array, step: int, *,
                      core_state: Any, should_reset: np.ndarray, prev_action: np.ndarray,
                      prev_reward: np.ndarray) -> ActionChoice:
        action, logits, state_in, next_state = select(params, observation, core_state, should_reset,
                                                      np.asarray(prev_action, np.int32),
                                                      np.asarray(prev_reward, np.float32), rng_key, np.int32(step))
        action, logits, state_in = jax.device_get((action, logits, state_in))
        return ActionChoice(action, logits, state_in, next_state)

    return select_action

