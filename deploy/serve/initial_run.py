"""A run directory holding only freshly initialised parameters, written without training.

For smoke-testing and benchmarking `vtrax serve` (and its tests): the directory has
the same layout `vtrax train` writes (config.json + checkpoints/ckpt_*), so
everything that serves a trained run serves this one.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vtrax.deploy.config import TrainConfig, network_options
from vtrax.deploy.runtime.run_dir import write_json_atomic


def write_initial_run(run_dir: str | Path, config: TrainConfig | None = None, *, seed: int = 0,
                      step: int = 0) -> str:
    """Write config.json, one checkpoint of randomly initialised parameters and summary.json; return the checkpoint.

    Args:
      run_dir: the directory to fill (created if missing).
      config: the run's config (default: `TrainConfig()`, CartPole with an MLP).
      seed: parameter initialisation seed.
      step: the `TrainingState.step` recorded in the checkpoint (its version).
    """
    import jax
    import jax.numpy as jnp

    from vtrax.actors import env_spec
    from vtrax.learner import init_state, make_network, save_checkpoint

    config = config or TrainConfig()
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    spec = env_spec(config.env_id)
    network = make_network(config.network, spec.num_actions, **network_options(config, spec))
    example = np.zeros((1, 1, *spec.observation_shape), spec.observation_dtype)
    state = init_state(config.learner, network, example, jax.random.PRNGKey(seed))
    state = state._replace(step=jnp.asarray(step, jnp.int32))
    write_json_atomic(run_dir / "config.json", config.to_dict())
    path = save_checkpoint(str(run_dir / "checkpoints"), state, {"num_updates": step, "num_frames": 0},
                           config.learner, network.description, keep=config.learner.keep_checkpoints)
    # A run that never ran is finished: its status says so and metric streams end at once.
    write_json_atomic(run_dir / "summary.json", {"env_id": config.env_id, "env_frames": 0, "learner_updates": step,
                                                 "stopped_because": "not trained (initial parameters)",
                                                 "final_checkpoint": path})
    return path
