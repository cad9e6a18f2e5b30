"""The learner's batch format: checks with teaching errors, key selection, synthetic batches.

A batch is a dict of numpy arrays shaped `[num_devices, batch_size // num_devices, T + 1, ...]`
(device, batch, time), as `replay.ReplayDataset` produces it:

    observation       [D, B/D, T+1, *obs_shape]   float32 (CartPole) or uint8 (Atari)
    action            [D, B/D, T+1]               int32 (Discrete), or [D, B/D, T+1, A] float32 (Box: the
                                                  raw Gaussian sample, unclipped)
    reward            [D, B/D, T+1]               float32
    discount          [D, B/D, T+1]               float32, 0.0 where the episode terminated or the
                                                  step is invalid (truncation keeps 1.0)
    valid             [D, B/D, T+1]               bool, False on autoreset steps (masked out)
    behaviour_logits  [D, B/D, T+1, P]            float32: the policy output (logits, or concat(mean, log_std))
    param_version     [D, B/D, T+1]               int32
    core_state/hidden [D, B/D, T+1, H]            float32 (recurrent agents only;
    core_state/cell   [D, B/D, T+1, H]             the learner reads step 0)
    prev_action       [D, B/D, T+1]               int32, a_{t-1} (recurrent agents; 0 at episode starts)
    prev_reward       [D, B/D, T+1]               float32, r_{t-1} (recurrent agents; 0 at episode starts)
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from vtrax.learner.action_distribution import action_distribution
from vtrax.learner.config import LearnerConfig
from vtrax.learner.loss import BATCH_KEYS, CORE_STATE_PREFIX, RECURRENT_INPUT_KEYS
from vtrax.learner.network import AgentNetwork


def select_batch_keys(batch: Mapping[str, Any], network: AgentNetwork) -> dict[str, Any]:
    """Only the keys the update reads, so nothing else is copied to the devices."""
    keys = BATCH_KEYS + tuple(k for k in batch if network.is_recurrent and (
        k.startswith(CORE_STATE_PREFIX) or k in RECURRENT_INPUT_KEYS))
    return {key: batch[key] for key in keys}


def check_batch(batch: Mapping[str, Any], config: LearnerConfig, network: AgentNetwork,
                num_devices: int) -> None:
    """Raise ValueError naming the first problem of a batch (missing key, shape, dtype)."""
    missing = [key for key in BATCH_KEYS if key not in batch]
    if network.is_recurrent and not any(key.startswith(CORE_STATE_PREFIX) for key in batch):
        missing.append(f"{CORE_STATE_PREFIX}*")
    if network.description.get("prev_action_reward"):
        missing += [key for key in RECURRENT_INPUT_KEYS if key not in batch]
    if missing:
        raise ValueError(f"batch is missing {missing} (it has {sorted(batch)}); the replay dataset must "
                         f"provide every field of the trajectory item")
    per_device = config.batch_size // num_devices
    lead = (num_devices, per_device, config.unroll_length + 1)
    for key in batch:
        shape = tuple(np.shape(batch[key]))
        if shape[:3] != lead:
            raise ValueError(
                f"batch[{key!r}] has shape {shape} but the learner expects leading dims {lead} = "
                f"(num_devices, batch_size // num_devices, unroll_length + 1) for batch_size="
                f"{config.batch_size}, unroll_length={config.unroll_length}; make the dataset's batch "
                f"size, device count and sequence length match the learner config")
    distribution = action_distribution(network.description)
    logits_shape = np.shape(batch["behaviour_logits"])
    if logits_shape[3:] != (distribution.num_params,):
        raise ValueError(f"batch['behaviour_logits'] has shape {logits_shape}, expected trailing dim "
                         f"({distribution.num_params},) = the size of the network's {distribution.kind} policy output")
    action = np.asarray(batch["action"])
    if action.shape[3:] != distribution.action_shape or action.dtype.kind != distribution.action_dtype.kind:
        raise ValueError(f"batch['action'] has shape {action.shape} and dtype {action.dtype}, but the network's "
                         f"{distribution.kind} policy takes actions of shape {distribution.action_shape} and dtype "
                         f"{distribution.action_dtype}; train with the network built for this env's action space")
    if not np.issubdtype(np.asarray(batch["param_version"]).dtype, np.integer):
        raise ValueError(f"batch['param_version'] must hold integers, got dtype "
                         f"{np.asarray(batch['param_version']).dtype}")
    if np.asarray(batch["valid"]).dtype != np.bool_:
        raise ValueError(f"batch['valid'] must be bool (False on autoreset steps), got dtype "
                         f"{np.asarray(batch['valid']).dtype}; write it as replay.impala_step_spec does")


def synthetic_batch(config: LearnerConfig, network: AgentNetwork, observation_shape: tuple[int, ...], *,
                    num_devices: int = 1, observation_dtype: Any = np.float32, core_size: int = 0,
                    seed: int = 0) -> dict[str, np.ndarray]:
    """A random batch in the replay format, for benchmarks and tests.

    Rewards are standard normal, about one step in 50 terminates and one in 50
    is invalid (an autoreset step), behaviour logits are small random numbers
    and parameter versions are 0.
    """
    rng = np.random.default_rng(seed)
    lead = (num_devices, config.batch_size // num_devices, config.unroll_length + 1)
    if np.issubdtype(observation_dtype, np.integer):
        observation = rng.integers(0, 256, size=lead + tuple(observation_shape), dtype=observation_dtype)
    else:
        observation = rng.standard_normal(lead + tuple(observation_shape)).astype(observation_dtype)
    batch = {
        "observation": observation,
        "action": _random_actions(rng, network, lead),
        "reward": rng.standard_normal(lead).astype(np.float32),
        "discount": (rng.random(lead) > 0.02).astype(np.float32),
        "valid": rng.random(lead) > 0.02,
        "behaviour_logits": (0.1 * rng.standard_normal(
            lead + (action_distribution(network.description).num_params,))).astype(np.float32),
        "param_version": np.zeros(lead, np.int32),
    }
    batch["discount"][~batch["valid"]] = 0.0
    if network.is_recurrent:
        batch["core_state/hidden"] = np.zeros(lead + (core_size,), np.float32)
        batch["core_state/cell"] = np.zeros(lead + (core_size,), np.float32)
        starts = np.concatenate([np.ones(lead[:2] + (1,), bool), ~batch["valid"][..., :-1]], axis=-1)
        batch["prev_action"] = np.where(starts, 0, np.roll(batch["action"], 1, axis=-1)).astype(np.int32)
        batch["prev_reward"] = np.where(starts, 0.0, np.roll(batch["reward"], 1, axis=-1)).astype(np.float32)
    return batch


def _random_actions(rng: np.random.Generator, network: AgentNetwork, lead: tuple[int, ...]) -> np.ndarray:
    """Uniform discrete actions [*lead] (MultiDiscrete: [*lead, D]), or standard normal continuous ones [*lead, D]."""
    distribution = action_distribution(network.description)
    if distribution.kind == "categorical":
        return rng.integers(0, network.num_actions, size=lead, dtype=np.int32)
    if distribution.kind == "multi_categorical":
        nvec = np.asarray(network.description["action_nvec"])
        return rng.integers(0, nvec, size=lead + (len(nvec),), dtype=np.int32)
    return rng.standard_normal(lead + distribution.action_shape).astype(np.float32)
