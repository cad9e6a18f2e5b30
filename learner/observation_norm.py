"""Running mean/std observation normalisation (`nets.ObservationNorm`): the learner's side.

The statistics live beside the weights (`params["obs_norm"] = {"mean": [F],
"var": [F], "count": []}`), so they travel wherever parameters go: published to
the actors with every version (actors and learner normalise alike), saved in
every checkpoint, and read back by `vtrax eval` and `vtrax serve`. The network
reads them through `stop_gradient` (their gradient is exactly 0) and the update
step overwrites them after each optimiser step.

They are updated from the observations the actors collected, as they arrive in
the learner's batches: each step's valid observations o_0..o_{T-1} of every
trajectory (the overlap step T is the next item's step 0, so nothing counts
twice), summed over devices, then merged with the running moments by Chan et
al.'s parallel formula ("Updating Formulae and a Pairwise Algorithm for
Computing Sample Variances", 1979): every device computes the same result.
"""

from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp

OBS_NORM = "obs_norm"


def merge_moments(stats: dict[str, jax.Array], batch_count: jax.Array, batch_mean: jax.Array,
                  batch_var: jax.Array) -> dict[str, jax.Array]:
    """Chan et al.'s merge of running moments {mean [F], var [F], count []} with a batch's."""
    count = stats["count"] + batch_count
    delta = batch_mean - stats["mean"]  # [F]
    weight = batch_count / jnp.maximum(count, 1.0)
    mean = stats["mean"] + delta * weight
    m2 = stats["var"] * stats["count"] + batch_var * batch_count + jnp.square(delta) * stats["count"] * weight
    return {"mean": mean, "var": m2 / jnp.maximum(count, 1.0), "count": count}


def update_from_batch(params: Any, observation: jax.Array, valid: jax.Array, unroll_length: int,
                      sum_over_devices: Callable[[Any], Any]) -> Any:
    """`params` with `obs_norm` updated from one device's batch (unchanged if the net has no `obs_norm`).

    Args:
      params: the parameter tree.
      observation: float [B, T + 1, F].
      valid: bool [B, T + 1].
      unroll_length: T.
      sum_over_devices: `lax.psum` over the device axis (identity on one device).
    """
    if OBS_NORM not in params:
        return params
    obs = observation[:, :unroll_length].astype(jnp.float32)  # [B, T, F]
    w = valid[:, :unroll_length].astype(jnp.float32)[..., None]  # [B, T, 1]
    n, total, total_sq = sum_over_devices((jnp.sum(w), jnp.sum(obs * w, axis=(0, 1)),
                                           jnp.sum(jnp.square(obs) * w, axis=(0, 1))))
    batch_mean = total / jnp.maximum(n, 1.0)  # [F]
    batch_var = jnp.maximum(total_sq / jnp.maximum(n, 1.0) - jnp.square(batch_mean), 0.0)  # [F]
    return {**params, OBS_NORM: merge_moments(params[OBS_NORM], n, batch_mean, batch_var)}
