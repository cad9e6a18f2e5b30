"""`LearnerCore`: what the `Learner` loop asks of an agent's learner, and IMPALA's.

The loop (learner/loop.py) owns batches, counters, publishing and
checkpoints; the core owns the numerics: the initial state, the compiled
update, the names of its metrics, and which batch fields it reads. An
update returns `(state, metrics [D, M], priorities [D, B/D] or None)`; new
priorities (off-policy agents) go to the loop's priority callback with the
batch's `info/key`.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, NamedTuple

import jax

from vtrax.learner.batch import check_batch, select_batch_keys
from vtrax.learner.config import LearnerConfig, frames_per_update
from vtrax.learner.network import AgentNetwork
from vtrax.learner.state import init_state
from vtrax.learner.update import METRIC_NAMES, make_update


class LearnerCore(NamedTuple):
    """An agent's learner numerics.

    Attributes:
      init: `init(rng, observation_example [T, B, ...]) -> TrainingState` (one copy).
      update: compiled `update(state, batch) -> (state, metrics [D, M], priorities [D, B/D] | None)`.
      metric_names: the M names of the metrics, in order.
      check_batch: `check_batch(batch, num_devices)` raises ValueError naming a bad field.
      select_batch_keys: `select(batch) -> batch` with only the fields the update reads.
      frames_per_update: agent steps one update learns from (for the frame counter).
    """

    init: Callable[[jax.Array, Any], Any]
    update: Callable[[Any, Mapping[str, Any]], tuple]
    metric_names: tuple[str, ...]
    check_batch: Callable[[Mapping[str, Any], int], None]
    select_batch_keys: Callable[[Mapping[str, Any]], dict]
    frames_per_update: int


def impala_core(config: LearnerConfig, network: AgentNetwork, *, num_devices: int) -> LearnerCore:
    """IMPALA's V-trace learner (learner.update) as a `LearnerCore`; it writes no priorities."""
    update = make_update(config, network, num_devices=num_devices, stack_metrics=True)

    def update_without_priorities(state: Any, batch: Mapping[str, Any]) -> tuple:
        return (*update(state, batch), None)

    return LearnerCore(
        init=lambda rng, observation: init_state(config, network, observation, rng),
        update=update_without_priorities, metric_names=METRIC_NAMES,
        check_batch=lambda batch, devices: check_batch(batch, config, network, devices),
        select_batch_keys=lambda batch: select_batch_keys(batch, network),
        frames_per_update=frames_per_update(config))
