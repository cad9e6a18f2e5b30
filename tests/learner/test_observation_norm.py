"""Running observation statistics: Chan's merge, the update step's merge from batches, their use in the net."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from vtrax import learner
from vtrax.learner.observation_norm import merge_moments


def _moments(x):
    return {"mean": x.mean(axis=0), "var": x.var(axis=0), "count": np.float32(len(x))}


def test_merging_two_parts_gives_the_moments_of_the_whole():
    data = np.random.default_rng(0).normal(3.0, 2.0, size=(700, 3)).astype(np.float32)
    first, second = data[:250], data[250:]
    merged = merge_moments({k: jnp.asarray(v) for k, v in _moments(first).items()}, jnp.float32(len(second)),
                           second.mean(axis=0), second.var(axis=0))
    np.testing.assert_allclose(merged["mean"], data.mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(merged["var"], data.var(axis=0), rtol=1e-4)
    assert float(merged["count"]) == 700


def test_the_update_merges_valid_batch_observations_and_the_net_normalises_by_them():
    config = learner.cartpole_config(batch_size=4, unroll_length=5, optimizer="adam")
    network = learner.make_network("mlp", 2, hidden_sizes=(16, 16), policy="gaussian", normalize_observations=True)
    state = learner.init_state(config, network, np.zeros((1, 1, 3), np.float32), jax.random.PRNGKey(0))
    batch = learner.synthetic_batch(config, network, (3,))
    batch["observation"] = batch["observation"] * 5.0 + 2.0
    new_state, _ = learner.make_update(config, network, num_devices=1)(learner.replicate(state, 1), batch)
    stats = jax.tree_util.tree_map(lambda x: np.asarray(x[0]), new_state.params["obs_norm"])
    seen = batch["observation"][0, :, :5][batch["valid"][0, :, :5]]  # valid steps 0..T-1: [N, 3]
    assert stats["count"] == len(seen)
    np.testing.assert_allclose(stats["mean"], seen.mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(stats["var"], seen.var(axis=0), rtol=1e-4)
    # The network reads the stats: with them it acts on (o - mean) / std as a stats-free net would.
    params = jax.tree_util.tree_map(lambda x: x[0], new_state.params)
    plain = learner.make_network("mlp", 2, hidden_sizes=(16, 16), policy="gaussian")
    plain_params = {name: value for name, value in params.items() if name != "obs_norm"}
    obs = batch["observation"][0, :, :2]
    normalised = np.clip((obs - stats["mean"]) / np.sqrt(stats["var"] + 1e-8), -10, 10)
    np.testing.assert_allclose(network.apply(params, obs)[0], plain.apply(plain_params, normalised)[0], atol=1e-5)


def test_normalisation_is_refused_for_discrete_policies():
    with pytest.raises(ValueError, match="option of the Gaussian policies"):
        learner.make_network("mlp", 2, normalize_observations=True)
