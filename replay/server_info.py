"""`replay.info(address)`: per-table sizes, counts and rate-limiter state, as plain dicts."""

from __future__ import annotations

from typing import Any

import reverb

from vtrax.replay.tables import signature_of


def info(address: str, timeout_s: int = 5) -> dict[str, dict[str, Any]]:
    """What the dashboards and `vtrax status` show about each table of the server at `address`.

    Args:
      address: `host:port` of the replay server.
      timeout_s: seconds to wait for the answer (whole seconds, >= 1).

    Returns:
      `{table name: {...}}` with
        kind: "queue" (FIFO sampler), "uniform" or "prioritized",
        current_size, max_size, max_times_sampled,
        num_inserts / num_samples: items inserted / sampled since the table was
          created (restored from checkpoints),
        num_unique_samples: items sampled at least once,
        num_episodes, num_deleted_episodes,
        rate_limiter: {samples_per_insert, min_size_to_sample, min_diff, max_diff,
          can_insert, can_sample} (can_*: would one more insert/sample go
          through now),
        worker_ms: {sleeping, waiting_for_sampling, waiting_for_inserts, ...},
        signature: {field: (shape, dtype name)}.

    Raises:
      reverb.DeadlineExceededError: if the server did not answer within timeout_s.
    """
    infos = reverb.Client(address).server_info(timeout=max(1, int(timeout_s)))
    return {name: table_info_dict(table_info) for name, table_info in infos.items()}


def table_info_dict(table_info) -> dict[str, Any]:
    """One `reverb` TableInfo as a plain dict (see `info`)."""
    limiter = table_info.rate_limiter_info
    inserts, samples = limiter.insert_stats.completed, limiter.sample_stats.completed
    size = table_info.current_size
    diff = inserts * limiter.samples_per_insert - samples
    worker = table_info.table_worker_time
    return {
        "kind": _kind(table_info.sampler_options),
        "current_size": size,
        "max_size": table_info.max_size,
        "max_times_sampled": table_info.max_times_sampled,
        "num_inserts": inserts,
        "num_samples": samples,
        "num_unique_samples": table_info.num_unique_samples,
        "num_episodes": table_info.num_episodes,
        "num_deleted_episodes": table_info.num_deleted_episodes,
        "rate_limiter": {
            "samples_per_insert": limiter.samples_per_insert,
            "min_size_to_sample": limiter.min_size_to_sample,
            "min_diff": limiter.min_diff,
            "max_diff": limiter.max_diff,
            "can_insert": (size + 1 < limiter.min_size_to_sample
                           or diff + limiter.samples_per_insert <= limiter.max_diff),
            "can_sample": size >= limiter.min_size_to_sample and size > 0 and diff - 1 >= limiter.min_diff,
        },
        "worker_ms": {
            "running": worker.running_ms, "sampling": worker.sampling_ms, "inserting": worker.inserting_ms,
            "sleeping": worker.sleeping_ms, "waiting_for_sampling": worker.waiting_for_sampling_ms,
            "waiting_for_inserts": worker.waiting_for_inserts_ms,
        },
        "signature": {name: (list(shape), dtype.name)
                      for name, (shape, dtype) in signature_of(table_info.signature or {}).items()},
    }


def _kind(sampler_options) -> str:
    if sampler_options.fifo:
        return "queue"
    if sampler_options.HasField("prioritized"):
        return "prioritized"
    if sampler_options.uniform:
        return "uniform"
    return "other"
