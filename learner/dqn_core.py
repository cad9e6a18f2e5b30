"""DQN/Ape-X's `LearnerCore`: transition batches in, new priorities out."""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from vtrax.learner.config import LearnerConfig
from vtrax.learner.core import LearnerCore
from vtrax.learner.dqn_config import DQNConfig
from vtrax.learner.dqn_loss import TRANSITION_KEYS
from vtrax.learner.dqn_update import DQN_METRIC_NAMES, init_dqn_state, make_dqn_update
from vtrax.learner.network import AgentNetwork


def check_transition_batch(batch: Mapping[str, Any], config: LearnerConfig, num_devices: int) -> None:
    """Raise ValueError naming the first missing or misshaped field of a transition batch."""
    missing = [key for key in (*TRANSITION_KEYS, "info/key") if key not in batch]
    if missing:
        raise ValueError(f"transition batch is missing {missing} (it has {sorted(batch)}); sample it from a "
                         "prioritised table written by replay.NStepAdder")
    lead = (num_devices, config.batch_size // num_devices)
    for key in TRANSITION_KEYS:
        shape = tuple(np.shape(batch[key]))
        if shape[:2] != lead:
            raise ValueError(f"batch[{key!r}] has shape {shape}, expected leading dims {lead} = (num_devices, "
                             f"batch_size // num_devices) for batch_size={config.batch_size}")


def dqn_core(config: LearnerConfig, dqn: DQNConfig, network: AgentNetwork, *, num_devices: int) -> LearnerCore:
    """The double-Q learner with a target network; every update returns |TD error| as new priorities."""
    return LearnerCore(
        init=lambda rng, observation: init_dqn_state(config, network, observation, rng),
        update=make_dqn_update(config, dqn, network, num_devices=num_devices),
        metric_names=DQN_METRIC_NAMES,
        check_batch=lambda batch, devices: check_transition_batch(batch, config, devices),
        select_batch_keys=lambda batch: {key: batch[key] for key in TRANSITION_KEYS},
        frames_per_update=config.batch_size)
