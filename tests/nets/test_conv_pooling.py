"""Conv2D and pooling against loop-and-slice jax.numpy references."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from vtrax import nets
from nets_reference import avg_pool_nhwc, conv2d_nhwc, max_pool_nhwc, random_params

KEY = jax.random.PRNGKey(2)


@pytest.mark.parametrize("kernel, stride, padding, rate", [
    (3, 1, "SAME", 1), (3, 2, "SAME", 1), (4, 2, "VALID", 1), ((3, 2), (2, 1), "SAME", 1), (3, 1, "SAME", 2),
    (8, 4, "VALID", 1),
])
def test_conv2d_matches_reference(kernel, stride, padding, rate):
    x = jax.random.normal(KEY, (2, 11, 10, 3))
    net = nets.transform(lambda x: nets.Conv2D(4, kernel, stride=stride, padding=padding, rate=rate)(x))
    params = random_params(net.init(KEY, x))
    pair = lambda v: (v, v) if isinstance(v, int) else v
    expected = conv2d_nhwc(x, params["conv2_d"]["w"], params["conv2_d"]["b"], pair(stride), padding, pair(rate))
    out = net.apply(params, None, x)
    assert out.shape == expected.shape
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-4)


def test_conv2d_unbatched_input_and_no_bias():
    x = jax.random.normal(KEY, (6, 6, 2))
    net = nets.transform(lambda x: nets.Conv2D(3, 3, with_bias=False)(x))
    params = random_params(net.init(KEY, x))
    assert list(params["conv2_d"]) == ["w"]
    expected = conv2d_nhwc(x[None], params["conv2_d"]["w"], None)[0]
    np.testing.assert_allclose(net.apply(params, None, x), expected, rtol=1e-4, atol=1e-4)


def test_conv2d_nchw_equals_nhwc_with_same_weights():
    x = jax.random.normal(KEY, (2, 7, 7, 3))
    nhwc = nets.transform(lambda x: nets.Conv2D(4, 3)(x))
    nchw = nets.transform(lambda x: nets.Conv2D(4, 3, data_format="NCHW")(x))
    params = random_params(nhwc.init(KEY, x))
    nchw_params = {"conv2_d": {"w": params["conv2_d"]["w"], "b": params["conv2_d"]["b"].reshape(4, 1, 1)}}
    out = nchw.apply(nchw_params, None, jnp.transpose(x, (0, 3, 1, 2)))
    np.testing.assert_allclose(jnp.transpose(out, (0, 2, 3, 1)), nhwc.apply(params, None, x), rtol=1e-4, atol=1e-4)


def test_conv2d_explicit_padding_pairs_equal_same():
    x = jax.random.normal(KEY, (1, 5, 5, 2))
    same = nets.transform(lambda x: nets.Conv2D(2, 3, padding="SAME")(x))
    pairs = nets.transform(lambda x: nets.Conv2D(2, 3, padding=((1, 1), (1, 1)))(x))
    params = random_params(same.init(KEY, x))
    np.testing.assert_allclose(pairs.apply(params, None, x), same.apply(params, None, x), rtol=1e-5)


@pytest.mark.parametrize("window, stride, padding", [((3, 3), (2, 2), "SAME"), ((2, 2), (2, 2), "VALID"),
                                                     ((3, 2), (1, 2), "SAME")])
def test_pooling_matches_reference(window, stride, padding):
    x = jax.random.normal(KEY, (2, 9, 8, 3))
    full = lambda v: (1,) + v + (1,)
    np.testing.assert_allclose(nets.max_pool(x, full(window), full(stride), padding),
                               max_pool_nhwc(x, window, stride, padding), rtol=1e-6)
    np.testing.assert_allclose(nets.avg_pool(x, full(window), full(stride), padding),
                               avg_pool_nhwc(x, window, stride, padding), rtol=1e-5, atol=1e-6)


def test_pooling_shape_inference_from_int_and_short_sequences():
    x = jax.random.normal(KEY, (2, 9, 8, 3))
    expected = max_pool_nhwc(x, (3, 3), (2, 2), "SAME")
    np.testing.assert_allclose(nets.max_pool(x, 3, 2, "SAME"), expected)
    np.testing.assert_allclose(nets.max_pool(x, (3, 3, 1), (2, 2, 1), "SAME"), expected)
    module_out = nets.transform(lambda x: nets.MaxPool(3, 2, "SAME")(x)).apply({}, None, x)
    np.testing.assert_allclose(module_out, expected)
    avg_out = nets.transform(lambda x: nets.AvgPool((2, 2, 1), (2, 2, 1), "VALID")(x)).apply({}, None, x)
    np.testing.assert_allclose(avg_out, avg_pool_nhwc(x, (2, 2), (2, 2), "VALID"), rtol=1e-5)
    with pytest.raises(ValueError, match="'SAME' or 'VALID'"):
        nets.max_pool(x, 3, 2, "FULL")
