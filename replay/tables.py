"""Reverb table definitions: the on-policy queue and the off-policy uniform/prioritised tables.

Item layout ("slab" items). An actor steps `num_envs` environments in lock-step
and appends one `[num_envs, ...]` slab per vector step; one item holds
`unroll_length + 1` consecutive slabs, so every field of an item is shaped

    [unroll_length + 1, num_envs, *field_shape]      (time, env, ...)

and consecutive items of one actor overlap by one step (the bootstrap step):

    steps   0 1 2 ... T
    item 0  |-------------|
    item 1                |-------------|          (starts at step T)
    item 2                              |------...  (starts at step 2T)

Writing whole slabs costs one `TrajectoryWriter.append` per vector step instead
of one per environment step (see BENCHMARKS.md, section replay). The dataset
splits each item back into `num_envs` per-env sequences `[T + 1, ...]`. For the
off-policy tables an item's priority and key therefore cover all `num_envs`
sequences of that slab; use `num_envs=1` in the adder and the table when every
sequence needs its own priority.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import reverb
import tensorflow as tf

from vtrax.replay.specs import FieldSpec, check_step_spec
from vtrax.replay.table_config import QUEUE, UNIFORM, TableConfig


def item_signature(step_spec: Mapping[str, FieldSpec], num_envs: int, unroll_length: int) -> dict[str, tf.TensorSpec]:
    """`{field: tf.TensorSpec([unroll_length + 1, num_envs, *shape], dtype)}` of one slab item
    (`unroll_length` 0 for single-step items)."""
    lead = (int(unroll_length) + 1, int(num_envs))
    return {name: tf.TensorSpec(lead + tuple(spec.shape), tf.as_dtype(spec.dtype))
            for name, spec in check_step_spec(step_spec).items()}


def build_table(config: TableConfig) -> reverb.Table:
    """The `reverb.Table` that `config` describes."""
    signature = item_signature(config.step_spec, config.num_envs, config.sequence_length - 1)
    if config.kind == QUEUE:
        # NOTE: Fifo sampler + remover, max_times_sampled=1 and rate_limiters.Queue:
        # a full queue blocks inserts (backpressure) and every item is sampled once.
        return reverb.Table.queue(name=config.name, max_size=config.max_size, signature=signature)
    sampler = (reverb.selectors.Uniform() if config.kind == UNIFORM
               else reverb.selectors.Prioritized(priority_exponent=config.priority_exponent))
    return reverb.Table(name=config.name, sampler=sampler, remover=reverb.selectors.Fifo(),
                        max_size=config.max_size, rate_limiter=_rate_limiter(config),
                        max_times_sampled=config.max_times_sampled, signature=signature)


def make_tables(kind: str, name: str, step_spec: Mapping[str, FieldSpec], num_envs: int, unroll_length: int,
                max_size: int, **options: Any) -> list[reverb.Table]:
    """`[reverb.Table]` for one table; `options` are the other `TableConfig` fields."""
    return [build_table(TableConfig(kind=kind, name=name, step_spec=step_spec, num_envs=num_envs,
                                    unroll_length=unroll_length, max_size=max_size, **options))]


def _rate_limiter(config: TableConfig) -> reverb.rate_limiters.RateLimiter:
    if config.samples_per_insert is None:
        return reverb.rate_limiters.MinSize(config.min_size_to_sample)
    tolerance = config.samples_per_insert_tolerance
    if tolerance is None:
        tolerance = max(10.0 * config.samples_per_insert, 2.0 * config.min_size_to_sample)
    return reverb.rate_limiters.SampleToInsertRatio(samples_per_insert=config.samples_per_insert,
                                                    min_size_to_sample=config.min_size_to_sample,
                                                    error_buffer=float(tolerance))


def signature_of(table_signature: Mapping[str, Any]) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
    """`{field: (shape, numpy dtype)}` of a table signature read back from a server."""
    return {name: (tuple(spec.shape.as_list()), np.dtype(spec.dtype.as_numpy_dtype))
            for name, spec in table_signature.items()}

