"""n-step transitions from a window of vector steps (numpy only), for Ape-X's actors.

Steps follow the actor's convention (replay.impala_step_spec): step t holds
o_t, a_t, r_t (after a_t), d_t (0 if the episode terminated after a_t) and
valid_t (False on gymnasium's autoreset step, which holds the finished
episode's final observation). From steps t .. t+n the transition of step t is

    R_t   = sum_{k<K} gamma^k r_{t+k} prod_{j<k} d_{t+j}
    D_t   = gamma^K prod_{k<K} d_{t+k}          (0 after a termination)
    o'_t  = o_{t+K}

where K = n, or fewer when the episode ended at step t+K-1 (step t+K invalid):

    step:      t     t+1    t+2 (invalid)   t+3
    obs:       o_t   o_t+1  o_final         o'_0
    K = 2 for step t (n >= 2): R = r_t + g d_t r_t+1, D = g^2 d_t d_t+1, o' = o_final

so a truncated episode bootstraps from its final observation and a terminated
one does not bootstrap at all. The transition of an invalid step is itself
invalid (the learner masks it).
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from vtrax.replay.specs import FieldSpec, field_spec


def transition_step_spec(observation_shape, observation_dtype) -> dict[str, FieldSpec]:
    """The fields of one env's n-step transition: observation, action, reward (R_t), discount (D_t),
    next_observation (o'_t), valid and param_version (the parameters that chose a_t)."""
    observation = field_spec(observation_shape, observation_dtype)
    return {"observation": observation, "action": field_spec((), np.int32), "reward": field_spec((), np.float32),
            "discount": field_spec((), np.float32), "next_observation": observation,
            "valid": field_spec((), np.bool_), "param_version": field_spec((), np.int32)}


def n_step_transition(window: Sequence[Mapping[str, np.ndarray]], discount: float) -> dict[str, np.ndarray]:
    """The transitions of the first step of `window` (n + 1 consecutive vector steps, oldest first).

    Args:
      window: n + 1 steps, each `{observation [E, ...], action [E], reward [E],
        discount [E], valid [E], param_version [E]}`.
      discount: gamma.

    Returns:
      `{field: [E, ...]}` with the fields of `transition_step_spec`.
    """
    if len(window) < 2:
        raise ValueError(f"an n-step transition needs n + 1 >= 2 steps, got {len(window)}")
    first = window[0]
    num_envs = np.shape(first["reward"])[0]
    n_step_return = np.zeros(num_envs, np.float64)
    scale = np.ones(num_envs, np.float64)  # gamma^k prod_{j<k} d_{t+j}
    alive = np.ones(num_envs, bool)  # the episode of step t has not ended before step t+k
    next_observation = np.array(window[-1]["observation"], copy=True)
    for step, following in zip(window[:-1], window[1:]):
        n_step_return += np.where(alive, scale * step["reward"], 0.0)
        scale = np.where(alive, scale * discount * step["discount"], scale)
        ends = alive & ~np.asarray(following["valid"], bool)  # the next step holds the final observation
        next_observation[ends] = following["observation"][ends]
        alive &= ~ends
    valid = np.asarray(first["valid"], bool)
    return {"observation": np.asarray(first["observation"]), "action": np.asarray(first["action"], np.int32),
            "reward": np.where(valid, n_step_return, 0.0).astype(np.float32),
            "discount": np.where(valid, scale, 0.0).astype(np.float32), "next_observation": next_observation,
            "valid": valid, "param_version": np.asarray(first["param_version"], np.int32)}
