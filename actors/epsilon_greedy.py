"""Epsilon-greedy acting on q-values, and Ape-X's ladder of epsilons across all environments.

See "Distributed Prioritized Experience Replay", Horgan et al. 2018
(https://arxiv.org/abs/1803.00933): env i of N (over all actors) explores
with epsilon_i = epsilon ** (1 + alpha * i / (N - 1)), so a few envs explore
a lot (epsilon_0 = epsilon) and most act nearly greedily.
"""

from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

from vtrax.actors.policy import ActionChoice, make_recurrent_select_action


def apex_epsilons(actor_index: int, num_actors: int, num_envs_per_actor: int, *, epsilon: float = 0.4,
                  alpha: float = 7.0) -> np.ndarray:
    """float32 [num_envs_per_actor]: the ladder's epsilons of one actor's envs (global env i = actor * E + e).

    Raises:
      ValueError: actor_index outside [0, num_actors), or a count below 1.
    """
    if num_actors < 1 or num_envs_per_actor < 1:
        raise ValueError(f"num_actors and num_envs_per_actor must be >= 1, got {num_actors} and "
                         f"{num_envs_per_actor}")
    if not 0 <= actor_index < num_actors:
        raise ValueError(f"actor_index must be in [0, {num_actors}), got {actor_index}")
    total = num_actors * num_envs_per_actor
    env_index = actor_index * num_envs_per_actor + np.arange(num_envs_per_actor)  # [E]
    fraction = env_index / (total - 1) if total > 1 else np.zeros(num_envs_per_actor)
    return np.power(epsilon, 1.0 + alpha * fraction).astype(np.float32)


def make_epsilon_greedy_select_action(apply_fn: Callable[..., Any], epsilons: np.ndarray
                                      ) -> Callable[..., ActionChoice]:
    """A jitted `select_action(params, observation [E, ...], rng_key, step) -> ActionChoice`.

    Env e takes a uniformly random action with probability `epsilons[e]`, else
    argmax_a q(o, a); `ActionChoice.logits` holds the q-values [E, A].

    Args:
      apply_fn: `apply(params, observation [1, E, ...]) -> (q_values [1, E, A], _)`.
      epsilons: float [E], one per environment (e.g. `apex_epsilons(...)`).
    """
    epsilons = jnp.asarray(epsilons, jnp.float32)

    @jax.jit
    def select(params: Any, observation: jax.Array, rng_key: jax.Array, step: jax.Array):
        q_values = apply_fn(params, observation[None])[0][0]  # [E, A]
        return _epsilon_greedy(q_values, epsilons, rng_key, step), q_values.astype(jnp.float32)

    def select_action(params: Any, observation: np.ndarray, rng_key: jax.Array, step: int) -> ActionChoice:
        _check_envs(observation, epsilons)
        action, q_values = jax.device_get(select(params, observation, rng_key, np.int32(step)))
        return ActionChoice(action, q_values)

    return select_action


def make_recurrent_epsilon_greedy_select_action(unroll_fn: Callable[..., Any], initial_state_fn: Callable[[int], Any],
                                                epsilons: np.ndarray) -> Callable[..., ActionChoice]:
    """The recurrent counterpart (R2D2): `actors.make_recurrent_select_action`'s greedy choice on q-values
    (the network's first output), replaced by a uniformly random action with probability `epsilons[e]`.
    The core state still advances from the observation as the greedy policy would."""
    epsilons = jnp.asarray(epsilons, jnp.float32)
    greedy = make_recurrent_select_action(unroll_fn, initial_state_fn, greedy=True)
    explore = jax.jit(lambda q_values, key, step: _epsilon_greedy(q_values, epsilons, key, step))

    def select_action(params: Any, observation: np.ndarray, rng_key: jax.Array, step: int, **recurrent) -> ActionChoice:
        _check_envs(observation, epsilons)
        choice = greedy(params, observation, rng_key, step, **recurrent)
        return choice._replace(action=np.asarray(explore(choice.logits, rng_key, np.int32(step))))

    return select_action


def _epsilon_greedy(q_values: jax.Array, epsilons: jax.Array, rng_key: jax.Array, step: jax.Array) -> jax.Array:
    """int32 [E]: argmax of q_values [E, A], or with probability epsilons [E] a uniform action."""
    explore_key, action_key = jax.random.split(jax.random.fold_in(rng_key, step))
    explore = jax.random.uniform(explore_key, epsilons.shape) < epsilons  # [E]
    random_action = jax.random.randint(action_key, epsilons.shape, 0, q_values.shape[-1])  # [E]
    return jnp.where(explore, random_action, jnp.argmax(q_values, axis=-1)).astype(jnp.int32)


def _check_envs(observation: np.ndarray, epsilons: jax.Array) -> None:
    if np.shape(observation)[0] != epsilons.shape[0]:
        raise ValueError(f"observation batch has {np.shape(observation)[0]} envs but the policy has "
                         f"{epsilons.shape[0]} epsilons; build it with one epsilon per env")
