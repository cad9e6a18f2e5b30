"""Initializers: Haiku's names, defaults and statistics."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from vtrax import nets
from vtrax.nets import initializers

KEY = jax.random.PRNGKey(3)


def sample(init, shape, dtype=jnp.float32):
    return np.asarray(nets.transform(lambda: init(shape, dtype)).apply({}, KEY))


def test_constant_broadcasts_scalars_and_arrays():
    np.testing.assert_array_equal(sample(initializers.Constant(2.5), [2, 3]), np.full([2, 3], 2.5))
    np.testing.assert_array_equal(sample(initializers.Constant(jnp.arange(3.0)), [2, 3]),
                                  np.tile(np.arange(3.0), (2, 1)))


def test_random_normal_moments():
    draw = sample(initializers.RandomNormal(stddev=2.0, mean=1.0), [200, 200])
    assert abs(draw.mean() - 1.0) < 0.05 and abs(draw.std() - 2.0) < 0.05


def test_truncated_normal_is_cut_at_two_stddevs():
    draw = sample(initializers.TruncatedNormal(stddev=0.5, mean=3.0), [200, 200])
    assert draw.min() >= 3.0 - 1.0 and draw.max() <= 3.0 + 1.0
    # A unit normal truncated to [-2, 2] has stddev 0.8796.
    assert abs(draw.std() - 0.5 * 0.8796) < 0.01


def test_random_uniform_range():
    draw = sample(initializers.RandomUniform(minval=-3.0, maxval=-1.0), [100, 100])
    assert draw.min() >= -3.0 and draw.max() < -1.0 and abs(draw.mean() + 2.0) < 0.05


@pytest.mark.parametrize("mode, distribution, shape, expected_std", [
    ("fan_in", "truncated_normal", [400, 100], np.sqrt(1 / 400)),
    ("fan_out", "normal", [400, 100], np.sqrt(1 / 100)),
    ("fan_avg", "uniform", [300, 100], np.sqrt(1 / 200)),
    ("fan_in", "truncated_normal", [3, 3, 16, 64], np.sqrt(1 / (9 * 16))),
])
def test_variance_scaling_reaches_target_variance(mode, distribution, shape, expected_std):
    draw = sample(initializers.VarianceScaling(1.0, mode, distribution), shape)
    assert abs(draw.std() / expected_std - 1.0) < 0.05


def test_variance_scaling_validates_arguments():
    with pytest.raises(ValueError, match="mode must be one of"):
        initializers.VarianceScaling(mode="fan_sideways")
    with pytest.raises(ValueError, match="scale must be > 0"):
        initializers.VarianceScaling(scale=0.0)


@pytest.mark.parametrize("shape, axis", [([6, 4], -1), ([4, 6], -1), ([3, 3, 2, 8], -1), ([5, 3], 0)])
def test_orthogonal_rows_or_columns_are_orthonormal(shape, axis):
    draw = sample(initializers.Orthogonal(scale=2.0, axis=axis), shape)
    matrix = np.moveaxis(draw, axis, 0).reshape(shape[axis], -1)  # [rows, cols]
    small = matrix @ matrix.T if matrix.shape[0] <= matrix.shape[1] else matrix.T @ matrix
    np.testing.assert_allclose(small, 4.0 * np.eye(small.shape[0]), atol=1e-4)


def test_linear_default_init_is_truncated_normal_with_inverse_sqrt_fan_in():
    params = nets.transform(lambda x: nets.Linear(512)(x)).init(KEY, jnp.ones([1, 256]))
    w, b = np.asarray(params["linear"]["w"]), np.asarray(params["linear"]["b"])
    stddev = 1.0 / np.sqrt(256)
    assert np.abs(w).max() <= 2.0 * stddev + 1e-6
    assert abs(w.std() - stddev * 0.8796) < 0.002
    np.testing.assert_array_equal(b, np.zeros(512))


def test_conv_default_init_uses_kernel_fan_in():
    params = nets.transform(lambda x: nets.Conv2D(64, 3)(x)).init(KEY, jnp.ones([1, 4, 4, 32]))
    w = np.asarray(params["conv2_d"]["w"])
    stddev = 1.0 / np.sqrt(3 * 3 * 32)
    assert np.abs(w).max() <= 2.0 * stddev + 1e-6 and abs(w.std() - stddev * 0.8796) < 0.002
