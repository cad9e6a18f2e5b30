"""LayerNorm, Embed, Sequential, Flatten, BatchApply and one_hot against hand-written jax.numpy."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from vtrax import nets
from nets_reference import layer_norm_last_axis, linear, random_params

KEY = jax.random.PRNGKey(4)


def test_layer_norm_last_axis_matches_reference():
    x = jax.random.normal(KEY, (3, 4, 5)) * 3.0 + 1.0
    net = nets.transform(lambda x: nets.LayerNorm(-1, create_scale=True, create_offset=True)(x))
    params = random_params(net.init(KEY, x))
    expected = layer_norm_last_axis(x, params["layer_norm"]["scale"], params["layer_norm"]["offset"])
    np.testing.assert_allclose(net.apply(params, None, x), expected, rtol=1e-5, atol=1e-5)


def test_layer_norm_defaults_give_zero_mean_unit_variance_and_fast_variance_agrees():
    x = jax.random.normal(KEY, (4, 6)) * 5.0 + 2.0
    net = nets.transform(lambda x: nets.LayerNorm(-1, True, True)(x))
    out = net.apply(net.init(KEY, x), None, x)
    np.testing.assert_allclose(out.mean(-1), np.zeros(4), atol=1e-5)
    np.testing.assert_allclose(out.var(-1), np.ones(4), rtol=1e-3)
    fast = nets.transform(lambda x: nets.LayerNorm(-1, False, False, use_fast_variance=True)(x))
    np.testing.assert_allclose(fast.apply({}, None, x), out, atol=1e-4)


def test_layer_norm_over_several_axes_keeps_haiku_param_shape():
    x = jax.random.normal(KEY, (8, 3, 2))
    net = nets.transform(lambda x: nets.LayerNorm(axis=(1, 2), create_scale=True, create_offset=False)(x))
    params = net.init(KEY, x)
    assert {k: v.shape for k, v in params["layer_norm"].items()} == {"scale": (2,)}
    flat = x.reshape(8, 6)
    normed = (flat - flat.mean(-1, keepdims=True)) / jnp.sqrt(flat.var(-1, keepdims=True) + 1e-5)
    np.testing.assert_allclose(net.apply(params, None, x), normed.reshape(8, 3, 2), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("lookup_style", ["ARRAY_INDEX", "ONE_HOT"])
def test_embed_looks_up_rows(lookup_style):
    ids = jnp.array([[0, 3], [5, 3]])
    net = nets.transform(lambda ids: nets.Embed(6, 4, lookup_style=lookup_style)(ids))
    params = net.init(KEY, ids)
    table = params["embed"]["embeddings"]
    assert table.shape == (6, 4)
    np.testing.assert_allclose(net.apply(params, None, ids), np.asarray(table)[np.asarray(ids)], rtol=1e-6)


def test_embed_from_matrix():
    matrix = jnp.arange(12.0).reshape(3, 4)
    net = nets.transform(lambda ids: nets.Embed(embedding_matrix=matrix)(ids))
    params = net.init(KEY, jnp.array([2]))
    np.testing.assert_array_equal(net.apply(params, None, jnp.array([2, 0])), matrix[jnp.array([2, 0])])
    with pytest.raises(ValueError, match="vocab_size and embed_dim"):
        nets.transform(lambda: nets.Embed()).init(KEY)


def test_sequential_applies_layers_in_order_and_names_them_in_caller_scope():
    def f(x):
        return nets.Sequential([nets.Linear(4), jax.nn.relu, nets.Linear(2)])(x)

    net = nets.transform(f)
    x = jax.random.normal(KEY, (3, 5))
    params = random_params(net.init(KEY, x))
    assert list(params) == ["linear", "linear_1"]
    expected = linear(jax.nn.relu(linear(x, params["linear"]["w"], params["linear"]["b"])),
                      params["linear_1"]["w"], params["linear_1"]["b"])
    np.testing.assert_allclose(net.apply(params, None, x), expected, rtol=1e-5, atol=1e-5)


def test_flatten_keeps_leading_dims():
    x = jnp.ones([2, 3, 4, 5])
    run = lambda module_fn: nets.transform(lambda x: module_fn()(x)).apply({}, None, x).shape
    assert run(nets.Flatten) == (2, 60)
    assert run(lambda: nets.Flatten(preserve_dims=2)) == (2, 3, 20)
    assert run(lambda: nets.Flatten(preserve_dims=4)) == (2, 3, 4, 5)


def test_batch_apply_merges_and_splits_leading_dims():
    seen = []

    def per_example_sum(x, y, scale=1.0):
        seen.append((x.shape, y.shape))
        return {"sum": (x.sum(-1) + y) * scale, "same": x}

    x = jnp.arange(24.0).reshape(2, 3, 4)
    y = jnp.ones([2, 3])
    out = nets.BatchApply(per_example_sum)(x, y, scale=2.0)
    assert seen == [((6, 4), (6,))]
    np.testing.assert_allclose(out["sum"], (x.sum(-1) + 1.0) * 2.0)
    np.testing.assert_array_equal(out["same"], x)
    with pytest.raises(ValueError, match=r"leading shape \(2, 3\)"):
        nets.BatchApply(per_example_sum)(x, jnp.ones([3, 2]))


def test_batch_apply_with_a_conv_over_time_and_batch():
    frames = jax.random.normal(KEY, (3, 2, 6, 6, 1))
    net = nets.transform(lambda x: nets.BatchApply(nets.Conv2D(2, 3))(x))
    params = net.init(KEY, frames)
    out = net.apply(params, None, frames)
    direct = nets.transform(lambda x: nets.Conv2D(2, 3)(x)).apply(params, None, frames.reshape(6, 6, 6, 1))
    np.testing.assert_allclose(out, direct.reshape(3, 2, 6, 6, 2), rtol=1e-6)


def test_one_hot():
    np.testing.assert_array_equal(nets.one_hot(jnp.array([0, 2]), 3), [[1, 0, 0], [0, 0, 1]])
    assert nets.one_hot(jnp.array([[1]]), 4, dtype=jnp.int32).dtype == jnp.int32
