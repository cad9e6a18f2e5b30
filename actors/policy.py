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
    """action: int32 [E]; logits: float32 [E, A] (the behaviour policy's, for V-trace)."""

    action: np.ndarray
    logits: np.ndarray


def make_select_action(apply_fn: ApplyFn, *, greedy: bool = False) -> Callable[..., ActionChoice]:
    """A jitted `select_action(params, observation [E, ...], rng_key, step) -> ActionChoice`.

    `step` is folded into `rng_key` inside the jitted function, so the caller passes
    one key for its lifetime and an increasing counter, and no key splitting runs
    on the host per step.
    """

    @jax.jit
    def select(params: Any, observation: jax.Array, rng_key: jax.Array, step: jax.Array):
        logits, _ = apply_fn(params, observation[None])
        logits = logits[0]  # [E, A]
        if greedy:
            action = jnp.argmax(logits, axis=-1)
        else:
            action = jax.random.categorical(jax.random.fold_in(rng_key, step), logits, axis=-1)
        return action.astype(jnp.int32), logits.astype(jnp.float32)

    def select_action(params: Any, observation: np.ndarray, rng_key: jax.Array, step: int) -> ActionChoice:
        action, logits = jax.device_get(select(params, observation, rng_key, np.int32(step)))
        return ActionChoice(action, logits)

    return select_action
