"""`ReplayDataset`: the learner side. Prefetched numpy batches `[devices, batch/devices, T + 1, ...]`.

A background thread samples slab items with `reverb.TrajectoryDataset` (the TF
pipeline, batched inside TF: faster here than `reverb.Client.sample`, see
BENCHMARKS.md), splits them into per-env sequences, cuts batches of
`batch_size` sequences and keeps up to `prefetch` of them ready. The sampling
stream uses a short rate-limiter timeout and is reopened when it runs dry, so
the thread checks its stop flag several times a second and `close()` returns
within a second even while the table is empty.

FIFO tables (the on-policy queue) are read by one worker, so sequences come out
in insertion order, each exactly once. For uniform/prioritised tables each
batch also carries, per sequence, `info/key` (uint64, the slab item's key),
`info/probability` and `info/priority` (float64); pass keys and new priorities
to `update_priorities`.
"""

from __future__ import annotations

import logging
import math
import queue
import threading
import time
from typing import Any, Iterator, Mapping

import numpy as np
import reverb
import tensorflow as tf

from vtrax.replay.connection import server_answers, wait_for_server
from vtrax.replay.sequences import SequenceBuffer, repeat_per_env, split_slabs, to_device_batch

log = logging.getLogger(__name__)

INFO_FIELDS = ("info/key", "info/probability", "info/priority")
_MAX_FETCH_BYTES = 8 << 20
_CONNECTION_ERRORS = (tf.errors.UnavailableError, tf.errors.DeadlineExceededError, tf.errors.CancelledError)


class ReplayDatasetError(RuntimeError):
    """The dataset's sampling thread failed; the message says why."""


class _Failure:
    def __init__(self, error: BaseException):
        self.error = error


class ReplayDataset:
    """Iterator of prefetched learner batches from one Reverb table.

    Args:
      address: `host:port` of the replay server.
      table: table name (slab items `[T + 1, num_envs, ...]`, see replay/tables.py).
      batch_size: per-env sequences per batch, over all devices.
      num_devices: leading axis of every field; must divide batch_size.
      prefetch: batches kept ready by the background thread.
      items_per_fetch: slab items fetched per TF call (default: enough for one batch,
        capped at 8 MiB of data, at least 1).
      include_info: add `info/*` fields (default: True unless the table samples FIFO).
      connect_timeout_s: how long to wait for the server at the start or after an outage.
      poll_timeout_ms: rate-limiter timeout of one sampling stream; bounds how
        long `close()` waits for the thread.

    Yields:
      `{field: [num_devices, batch_size // num_devices, T + 1, *field_shape]}`
      (+ `info/*`: `[num_devices, batch_size // num_devices]`).

    Raises:
      ValueError: batch_size, num_devices or prefetch out of range.
    """

    def __init__(self, address: str, table: str, batch_size: int, num_devices: int = 1, prefetch: int = 2, *,
                 items_per_fetch: int | None = None, include_info: bool | None = None,
                 connect_timeout_s: float = 300.0, poll_timeout_ms: int = 200):
        if batch_size < 1 or num_devices < 1 or prefetch < 1:
            raise ValueError(f"batch_size, num_devices and prefetch must be >= 1, got batch_size={batch_size}, "
                             f"num_devices={num_devices}, prefetch={prefetch}")
        if batch_size % num_devices:
            raise ValueError(f"batch_size {batch_size} is not divisible by num_devices {num_devices}; use a "
                             f"multiple of {num_devices} (e.g. {num_devices * max(1, batch_size // num_devices)})")
        if items_per_fetch is not None and items_per_fetch < 1:
            raise ValueError(f"items_per_fetch must be >= 1 or None, got {items_per_fetch}")
        self._address, self._table = address, table
        self._batch_size, self._num_devices = int(batch_size), int(num_devices)
        self._items_per_fetch, self._include_info = items_per_fetch, include_info
        self._connect_timeout_s, self._poll_timeout_ms = float(connect_timeout_s), int(poll_timeout_ms)
        self._queue: queue.Queue = queue.Queue(maxsize=prefetch)
        self._stop = threading.Event()
        self._client: reverb.Client | None = None
        self.wait_s_total = 0.0
        """Seconds `next()` spent waiting for a batch, summed over all calls."""
        self.last_wait_s = 0.0
        """Seconds the last `next()` waited."""
        self.counts = {"items": 0, "sequences": 0, "batches": 0, "reconnects": 0, "streams": 0}
        self._thread = threading.Thread(target=self._run, name=f"replay-dataset-{table}", daemon=True)
        self._thread.start()

    def __iter__(self) -> Iterator[dict[str, np.ndarray]]:
        return self

    def __next__(self) -> dict[str, np.ndarray]:
        if self._stop.is_set():
            raise StopIteration
        start = time.monotonic()
        while True:
            try:
                entry = self._queue.get(timeout=0.1)
                break
            except queue.Empty:
                if self._stop.is_set() or not self._thread.is_alive():
                    raise StopIteration from None
        if isinstance(entry, _Failure):
            self._stop.set()
            raise ReplayDatasetError(f"replay dataset for table {self._table!r} at {self._address} failed: "
                                     f"{entry.error}") from entry.error
        self.last_wait_s = time.monotonic() - start
        self.wait_s_total += self.last_wait_s
        return entry

    def close(self, timeout_s: float = 1.0) -> None:
        """Stop the sampling thread; returns within about `timeout_s`. Buffered sequences are dropped.

        The thread checks its stop flag at least every `poll_timeout_ms` while the
        server answers (data flowing, table empty or rate limited). While the
        server is unreachable, Reverb's sampler blocks inside one call and retries
        on its own; then `close()` logs that after `timeout_s` and returns, and the
        daemon thread ends as soon as that call returns.
        """
        self._stop.set()
        self._thread.join(timeout_s)
        if not self._thread.is_alive():
            return
        if server_answers(reverb.Client(self._address)):  # a large sample still in flight: harmless, it ends on its own
            log.info("replay dataset thread for table %r still finishing a sample %.1fs after close(); it ends "
                     "when that call returns", self._table, timeout_s)
        else:
            log.warning("replay dataset thread for table %r still inside a Reverb call %.1fs after close() and the "
                        "server at %s does not answer; the thread ends when that call returns", self._table,
                        timeout_s, self._address)

    @property
    def closed(self) -> bool:
        return self._stop.is_set() and not self._thread.is_alive()

    def update_priorities(self, keys: np.ndarray, priorities: np.ndarray) -> None:
        """Set new priorities for sampled items (`info/key`); duplicate keys (the envs of one slab) take the max.

        Raises:
          ValueError: if keys and priorities differ in size or a priority is negative or not finite.
        """
        keys, priorities = np.asarray(keys).reshape(-1), np.asarray(priorities, np.float64).reshape(-1)
        if keys.shape != priorities.shape:
            raise ValueError(f"keys and priorities must have the same number of elements, got {keys.size} "
                             f"and {priorities.size}")
        if not np.all(np.isfinite(priorities)) or np.any(priorities < 0):
            raise ValueError(f"priorities must be finite and >= 0, got min {priorities.min()} "
                             f"and max {priorities.max()}")
        updates: dict[int, float] = {}
        for key, priority in zip(keys.tolist(), priorities.tolist()):
            updates[int(key)] = max(priority, updates.get(int(key), priority))
        if self._client is None:
            self._client = reverb.Client(self._address)
        self._client.mutate_priorities(self._table, updates=updates)

    def __enter__(self) -> "ReplayDataset":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    # The sampling thread.

    def _run(self) -> None:
        try:
            layout = self._connect()
            buffer = SequenceBuffer()
            while not self._stop.is_set():
                try:
                    self._stream(layout, buffer)
                except _CONNECTION_ERRORS as error:
                    self.counts["reconnects"] += 1
                    log.warning("replay dataset lost the server at %s (%s); reconnecting", self._address,
                                str(error).splitlines()[0] if str(error) else type(error).__name__)
                    layout = self._connect()
        except Exception as error:  # noqa: BLE001 - handed to the consumer's next()
            if not self._stop.is_set():
                self._put(_Failure(error))

    def _connect(self) -> dict[str, Any]:
        client = reverb.Client(self._address)
        infos = wait_for_server(client, self._address, timeout_s=self._connect_timeout_s, who="dataset",
                                stop_requested=self._stop.is_set)
        if self._table not in infos:
            raise ValueError(f"replay server at {self._address} has no table {self._table!r} (it has "
                             f"{sorted(infos)})")
        return _layout(infos[self._table], self._batch_size, self._items_per_fetch, self._include_info)

    def _stream(self, layout: Mapping[str, Any], buffer: SequenceBuffer) -> None:
        """Read one sampling stream until it runs dry (rate-limiter timeout) or the dataset stops."""
        self.counts["streams"] += 1
        fetch = layout["items_per_fetch"]
        dataset = reverb.TrajectoryDataset(
            self._address, self._table, dtypes=layout["dtypes"], shapes=layout["shapes"],
            max_in_flight_samples_per_worker=2 * fetch, num_workers_per_iterator=layout["num_workers"],
            rate_limiter_timeout_ms=self._poll_timeout_ms)
        # NOTE: drop_remainder=False: the last partial batch of a stream is still
        # delivered, so nothing sampled from a queue is lost when the stream ends.
        # prefetch(1) lets TF receive the next group while this thread splits one.
        grouped = dataset.batch(fetch) if fetch > 1 else dataset.map(_add_item_axis)  # no copy for one item
        for sample in grouped.prefetch(1).as_numpy_iterator():
            num_items = len(sample.info.key)
            sequences = split_slabs(sample.data)
            if layout["include_info"]:
                sequences["info/key"] = repeat_per_env(sample.info.key, layout["num_envs"])
                sequences["info/probability"] = repeat_per_env(sample.info.probability, layout["num_envs"])
                sequences["info/priority"] = repeat_per_env(sample.info.priority, layout["num_envs"])
            buffer.add(sequences)
            self.counts["items"] += num_items
            while len(buffer) >= self._batch_size:
                if not self._put(to_device_batch(buffer.take(self._batch_size), self._num_devices)):
                    return
                self.counts["batches"] += 1
                self.counts["sequences"] += self._batch_size
            if self._stop.is_set():
                return

    def _put(self, entry) -> bool:
        """Queue `entry` unless the dataset stops first; returns whether it was queued."""
        while not self._stop.is_set():
            try:
                self._queue.put(entry, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False


def _add_item_axis(sample):
    return tf.nest.map_structure(lambda x: tf.expand_dims(x, 0), sample)


def _layout(info, batch_size: int, items_per_fetch: int | None, include_info: bool | None) -> dict[str, Any]:
    """Shapes, dtypes, env count and read settings of a slab table from its server info."""
    if not info.signature:
        raise ValueError(f"table {info.name!r} has no signature; create it with replay.make_tables(...)")
    shapes = {name: spec.shape for name, spec in info.signature.items()}
    leads = {name: tuple(shape.as_list()[:2]) for name, shape in shapes.items()}
    if len(set(leads.values())) != 1 or any(len(lead) != 2 for lead in leads.values()):
        raise ValueError(f"table {info.name!r} is not a slab table: every field must be "
                         f"[unroll_length + 1, num_envs, ...], got leading dims {leads}")
    num_envs = next(iter(leads.values()))[1]
    fifo = info.sampler_options.fifo
    item_bytes = sum(spec.shape.num_elements() * spec.dtype.size for spec in info.signature.values())
    if items_per_fetch is None:
        # NOTE: enough items for one batch, but at most ~_MAX_FETCH_BYTES per call, so
        # the thread is back at its stop check quickly even with Atari-sized items.
        items_per_fetch = max(1, min(math.ceil(batch_size / num_envs), _MAX_FETCH_BYTES // item_bytes))
    return {
        "shapes": shapes,
        "dtypes": {name: spec.dtype for name, spec in info.signature.items()},
        "num_envs": num_envs,
        "items_per_fetch": items_per_fetch,
        # NOTE: one worker for FIFO tables, or parallel streams would reorder the queue.
        "num_workers": 1 if fifo else -1,
        "include_info": (not fifo) if include_info is None else include_info,
    }
