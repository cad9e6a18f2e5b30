"""vtrax learner: the IMPALA update step (pmapped), its optimiser, checkpoints and loop.

`learner.update` and everything it imports are pure JAX/optax (no Reverb, Ray
or TensorFlow), so the update and its benchmark run on any JAX install.
"""

from vtrax.learner.batch import check_batch, select_batch_keys, synthetic_batch
from vtrax.learner.checkpoint import (Checkpoint, CheckpointMismatchError, CheckpointUnreadableError, CheckpointWriter,
                                      checkpoint_metadata, latest_checkpoint, list_checkpoints, load_params,
                                      restore_checkpoint, save_checkpoint)
from vtrax.learner.config import LearnerConfig, atari_config, cartpole_config, field_help, frames_per_update
from vtrax.learner.loop import Learner, NonFiniteUpdatesError
from vtrax.learner.loss import LossOutputs, clip_rewards, make_loss
from vtrax.learner.network import NETWORK_KINDS, AgentNetwork, make_network
from vtrax.learner.optimizer import learning_rate_schedule, make_optimizer
from vtrax.learner.state import TrainingState, host_copy, init_state, replicate, unreplicate
from vtrax.learner.update import METRIC_NAMES, make_update, make_update_step

__all__ = [
    "AgentNetwork",
    "Checkpoint",
    "CheckpointMismatchError",
    "CheckpointUnreadableError",
    "CheckpointWriter",
    "Learner",
    "LearnerConfig",
    "LossOutputs",
    "METRIC_NAMES",
    "NETWORK_KINDS",
    "NonFiniteUpdatesError",
    "TrainingState",
    "atari_config",
    "cartpole_config",
    "check_batch",
    "checkpoint_metadata",
    "field_help",
    "clip_rewards",
    "frames_per_update",
    "host_copy",
    "init_state",
    "latest_checkpoint",
    "learning_rate_schedule",
    "list_checkpoints",
    "load_params",
    "make_loss",
    "make_network",
    "make_optimizer",
    "make_update",
    "make_update_step",
    "replicate",
    "restore_checkpoint",
    "save_checkpoint",
    "select_batch_keys",
    "synthetic_batch",
    "unreplicate",
]
