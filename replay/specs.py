"""What one actor step holds: field names, per-env shapes and dtypes.

This module imports numpy only, so the learner's synthetic batches and the
actors' shape checks can use it on machines without Reverb or TensorFlow.

A step spec is a plain `dict[str, FieldSpec]`. The replay tables, the adder and
the dataset are generic over field names; `impala_step_spec` is the one the
IMPALA/V-trace agent writes.
"""

from __future__ import annotations

from typing import Mapping, NamedTuple

import numpy as np

CORE_STATE_PREFIX = "core_state/"


class FieldSpec(NamedTuple):
    """Shape and dtype of one field of one environment's step.

    Attributes:
      shape: per-env shape, without the env or time axes (`()` for scalars).
      dtype: numpy dtype of the field.
    """

    shape: tuple[int, ...]
    dtype: np.dtype


def field_spec(shape, dtype) -> FieldSpec:
    """A `FieldSpec` with the shape as a tuple of ints and the dtype as `np.dtype`.

    Raises:
      ValueError: if a dimension is not a non-negative integer.
    """
    dims = tuple(int(d) for d in shape)
    if any(d < 0 for d in dims):
        raise ValueError(f"field shape must have non-negative dimensions, got {tuple(shape)}")
    return FieldSpec(dims, np.dtype(dtype))


def impala_step_spec(observation_shape, observation_dtype, num_actions: int,
                     core_state_shapes: Mapping[str, tuple[int, ...]] | None = None, *,
                     action_shape: tuple[int, ...] = (), action_dtype=np.int32,
                     num_policy_params: int | None = None) -> dict[str, FieldSpec]:
    """The fields an IMPALA/V-trace actor writes for each environment step.

    Step t holds the observation o_t, the action a_t taken at o_t, the reward r_t
    received after a_t, discount_t (0.0 if the episode terminated after a_t or the
    step is invalid, else 1.0: a time-limit truncation keeps 1.0 and bootstraps), the
    behaviour policy's logits at o_t, the version of the parameters that chose a_t,
    and valid_t (False for gymnasium's autoreset step, whose action the env ignored).
    An episode end at step t is followed by that invalid step t+1, whose observation
    is the episode's final one; step t+2 starts the new episode (timeline in
    `actors.vector_env`):

        step:      t              t+1                t+2
        obs:       o_t            o_final            o'_0
        discount:  0 (terminated) 0                  ...
                   1 (truncated)
        valid:     True           False              True

    Args:
      observation_shape: per-env observation shape, e.g. `(4,)` or `(84, 84, 4)`.
      observation_dtype: observation dtype, e.g. `np.float32` or `np.uint8`.
      num_actions: number of discrete actions A (the logits' last dimension).
      core_state_shapes: recurrent agents only: `{name: shape}` of the core
        state at each step, stored as float32 fields `core_state/<name>`; the
        step then also holds the core's other inputs, `prev_action` int32 []
        (a_{t-1}) and `prev_reward` float32 [] (r_{t-1}), 0 at an episode's
        first step (the one after an invalid step).
      action_shape, action_dtype: one action: int32 [] (Discrete, the default) or
        float32 [D] (Box: the raw Gaussian sample, before clipping to the bounds).
      num_policy_params: the last dimension P of `behaviour_logits` when it is not
        `num_actions` (Gaussian policies store concat(mean, log_std), P = 2D).

    Returns:
      `{field name: FieldSpec}` with `observation`, `action` int32 [],
      `reward` float32 [], `discount` float32 [], `valid` bool [], `behaviour_logits`
      float32 [A], `param_version` int32 [] and, for recurrent agents, the
      `core_state/<name>`, `prev_action` and `prev_reward` fields.

    Raises:
      ValueError: if num_actions < 1 or a core state name is empty.
    """
    if int(num_actions) < 1:
        raise ValueError(f"num_actions must be >= 1, got {num_actions}")
    spec = {
        "observation": field_spec(observation_shape, observation_dtype),
        "action": field_spec(action_shape, action_dtype),
        "reward": field_spec((), np.float32),
        "discount": field_spec((), np.float32),
        "valid": field_spec((), np.bool_),
        "behaviour_logits": field_spec((int(num_policy_params or num_actions),), np.float32),
        "param_version": field_spec((), np.int32),
    }
    for name, shape in (core_state_shapes or {}).items():
        if not name:
            raise ValueError(f"core state names must be non-empty, got {sorted(core_state_shapes)}")
        spec[CORE_STATE_PREFIX + name] = field_spec(shape, np.float32)
    if core_state_shapes:
        spec.update(prev_action=field_spec((), np.int32), prev_reward=field_spec((), np.float32))
    return spec


def check_step_spec(step_spec: Mapping[str, FieldSpec]) -> dict[str, FieldSpec]:
    """A normalised copy of `step_spec`, or ValueError naming the bad field."""
    if not step_spec:
        raise ValueError("step_spec is empty; build one with replay.impala_step_spec(...) or "
                         "{name: replay.FieldSpec(shape, dtype)}")
    normalised = {}
    for name, spec in step_spec.items():
        if not isinstance(name, str) or not name:
            raise ValueError(f"step_spec field names must be non-empty strings, got {name!r}")
        try:
            shape, dtype = spec
        except (TypeError, ValueError):
            raise ValueError(f"step_spec[{name!r}] must be a FieldSpec(shape, dtype), got {spec!r}") from None
        normalised[name] = field_spec(shape, dtype)
    return normalised


def step_spec_to_json(step_spec: Mapping[str, FieldSpec]) -> dict[str, list]:
    """`{name: [shape, dtype name]}`, for passing a spec to another process."""
    return {name: [list(spec.shape), np.dtype(spec.dtype).name] for name, spec in step_spec.items()}


def step_spec_from_json(data: Mapping[str, list]) -> dict[str, FieldSpec]:
    """Inverse of `step_spec_to_json`."""
    return {name: field_spec(shape, dtype) for name, (shape, dtype) in data.items()}


def step_nbytes(step_spec: Mapping[str, FieldSpec]) -> int:
    """Bytes of one environment's step (all fields)."""
    return sum(int(np.prod(spec.shape, dtype=np.int64)) * np.dtype(spec.dtype).itemsize
               for spec in step_spec.values())
