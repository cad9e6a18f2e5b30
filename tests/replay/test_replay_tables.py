"""Table definitions: kinds, rate limiters and the slab signature (in-process, no server)."""

import numpy as np
import pytest

from vtrax import replay

SPEC = replay.impala_step_spec((4,), np.float32, 2)


def _only(tables):
    assert len(tables) == 1
    return tables[0].info


def test_queue_table_is_fifo_sampled_once_and_blocks_when_full():
    info = _only(replay.make_tables("queue", "impala", SPEC, num_envs=16, unroll_length=20, max_size=64))
    assert info.sampler_options.fifo and info.remover_options.fifo
    assert info.max_times_sampled == 1
    assert info.max_size == 64
    # rate_limiters.Queue(64): inserts stop once inserts - samples reaches max_size.
    assert (info.rate_limiter_info.min_diff, info.rate_limiter_info.max_diff) == (0.0, 64.0)
    assert info.rate_limiter_info.samples_per_insert == 1.0


def test_slab_signature_is_time_env_then_field_shape():
    info = _only(replay.make_tables("queue", "impala", SPEC, num_envs=16, unroll_length=20, max_size=64))
    shapes = {name: (spec.shape.as_list(), spec.dtype.name) for name, spec in info.signature.items()}
    assert shapes == {
        "observation": ([21, 16, 4], "float32"),
        "action": ([21, 16], "int32"),
        "reward": ([21, 16], "float32"),
        "discount": ([21, 16], "float32"),
        "valid": ([21, 16], "bool"),
        "behaviour_logits": ([21, 16, 2], "float32"),
        "param_version": ([21, 16], "int32"),
    }


def test_prioritized_table_with_sample_to_insert_ratio():
    info = _only(replay.make_tables("prioritized", "td", SPEC, num_envs=1, unroll_length=5, max_size=1000,
                                    priority_exponent=0.7, samples_per_insert=8.0, min_size_to_sample=100))
    assert info.sampler_options.prioritized.priority_exponent == pytest.approx(0.7)
    assert info.remover_options.fifo
    limiter = info.rate_limiter_info
    assert limiter.samples_per_insert == 8.0 and limiter.min_size_to_sample == 100
    # default tolerance max(10 * 8, 2 * 100) = 200 samples around 8 * 100
    assert (limiter.min_diff, limiter.max_diff) == (800.0 - 200.0, 800.0 + 200.0)


def test_uniform_table_with_min_size():
    info = _only(replay.make_tables("uniform", "td", SPEC, num_envs=4, unroll_length=5, max_size=100,
                                    min_size_to_sample=10))
    assert info.sampler_options.uniform and info.max_times_sampled == 0
    assert info.rate_limiter_info.min_size_to_sample == 10


def test_make_tables_rejects_unknown_kind():
    with pytest.raises(ValueError, match="table kind must be one of"):
        replay.make_tables("lifo", "x", SPEC, num_envs=1, unroll_length=1, max_size=1)
