"""The Tensor codec and the observation checks behind INVALID_ARGUMENT."""

import numpy as np
import pytest

from vtrax.deploy.serve import InvalidRequestError, check_observations, from_tensor, to_tensor
from vtrax.deploy.serve.tensors import DTYPES, check_request_size


@pytest.mark.parametrize("dtype", DTYPES)
def test_round_trip_keeps_values_shape_and_dtype(dtype):
    array = (np.arange(24) % 7).astype(dtype).reshape(2, 3, 4)
    back = from_tensor(to_tensor(array), name="x")
    assert back.dtype.name == dtype and back.shape == (2, 3, 4)
    np.testing.assert_array_equal(back, array)


def test_big_endian_and_strided_arrays_travel_as_little_endian_c_order():
    array = np.arange(12, dtype=">f4").reshape(3, 4).T  # big-endian, not C-contiguous
    message = to_tensor(array)
    assert message.data == np.ascontiguousarray(array.astype("<f4")).tobytes()
    np.testing.assert_array_equal(from_tensor(message, name="x"), array)


def test_unsupported_dtypes_cannot_be_sent():
    with pytest.raises(InvalidRequestError, match="dtype bool cannot be sent"):
        to_tensor(np.zeros(3, bool))


def _check(array, **overrides):
    arguments = dict(env_id="CartPole-v1", observation_shape=(4,), observation_dtype=np.float32,
                     max_batch_size=8)
    arguments.update(overrides)
    check_observations(array, **arguments)


def test_a_good_batch_passes():
    _check(np.zeros((8, 4), np.float32))
    _check(np.zeros((2, 84, 84, 4), np.uint8), observation_shape=(84, 84, 4), observation_dtype=np.uint8)


@pytest.mark.parametrize("array, phrase", [
    (np.zeros((2, 3), np.float32), "must have shape [B, 4] for CartPole-v1, got [2, 3]"),
    (np.zeros((4,), np.float32), "got [4]; stack B observations"),
    (np.zeros((0, 4), np.float32), "batch is empty (shape [0, 4])"),
    (np.zeros((9, 4), np.float32), "batch of 9 observations exceeds this server's --max-batch-size 8"),
    (np.zeros((2, 4), np.float64), "must be float32 for CartPole-v1, got float64"),
    (np.zeros((2, 4), np.int32), "np.asarray(x, np.float32)"),
    (np.array([[0, 0, 0, 0], [0, np.nan, 0, 0]], np.float32), "must be finite, got NaN or inf in row(s) [1]"),
    (np.full((2, 4), np.inf, np.float32), "NaN or inf in row(s) [0, 1]"),
])
def test_each_problem_is_named_with_its_values(array, phrase):
    with pytest.raises(InvalidRequestError) as caught:
        _check(array)
    assert phrase in str(caught.value)


def test_request_size_limit_names_both_numbers():
    check_request_size(100, 100)
    with pytest.raises(InvalidRequestError, match="request is 5,000 bytes, over this server's --max-request-bytes 100"):
        check_request_size(5000, 100)
