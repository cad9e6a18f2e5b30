"""`PriorityWriter`: new priorities go to replay on a background thread, in order, off the learner's path.

The learner hands over `(keys, priorities)` after each update, priorities
still on the device; this thread fetches them to the host and calls `write`
(e.g. `ReplayDataset.update_priorities`: one `mutate_priorities` call for the
keys of all devices together). Whatever queued up while a write ran is merged
into the next write, in order: a key's priority within one update is the max
over its entries (the envs of one slab item), and a later update overrides an
earlier one. `close()` writes everything still queued before it returns.
Imports no Reverb: `write` is whatever the caller passes.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from typing import Any, Callable

import numpy as np

log = logging.getLogger(__name__)

_CLOSE = object()
_MAX_MERGED = 64  # updates merged into one write at most


class PriorityWriter:
    """Ordered, asynchronous priority updates.

    Args:
      write: `write(keys [N] uint64, priorities [N] float64)`.
      max_pending: submissions queued before `submit` blocks (bounded memory if
        the server stalls).
    """

    def __init__(self, write: Callable[[np.ndarray, np.ndarray], None], *, max_pending: int = 256):
        self._write = write
        self._queue: queue.Queue = queue.Queue(maxsize=max_pending)
        self.written = 0
        self.failed = 0
        self.write_s = 0.0
        self._thread = threading.Thread(target=self._run, name="priority-writer", daemon=True)
        self._thread.start()

    def submit(self, keys: np.ndarray, priorities: Any) -> None:
        """Queue one update; `priorities` may be a device array of any shape with `keys.size` elements."""
        if not self._thread.is_alive():
            raise RuntimeError("submit() on a closed PriorityWriter; create a new one")
        self._queue.put((keys, priorities))

    @property
    def pending(self) -> int:
        return self._queue.qsize()

    def close(self, timeout_s: float = 10.0) -> None:
        """Write what is queued, then stop the thread (waits at most about `timeout_s`)."""
        if self._thread.is_alive():
            self._queue.put(_CLOSE)
            self._thread.join(timeout_s)
        if self._thread.is_alive():
            log.warning("priority writer still busy %.0fs after close(); %d update(s) not written", timeout_s,
                        self.pending)

    def _run(self) -> None:
        closing = False
        while not closing:
            entries = [self._queue.get()]
            while not self._queue.empty() and len(entries) < _MAX_MERGED:
                entries.append(self._queue.get_nowait())
            closing = entries[-1] is _CLOSE
            updates = [entry for entry in entries if entry is not _CLOSE]
            if not updates:
                continue
            start = time.perf_counter()
            try:
                self._write(*merge_updates(updates))
                self.written += len(updates)
            except Exception as error:  # noqa: BLE001 - a lost update only leaves old priorities in place
                self.failed += len(updates)
                log.warning("priority update failed (%s); the items keep their previous priorities", error)
            self.write_s += time.perf_counter() - start


def merge_updates(updates: list[tuple[Any, Any]]) -> tuple[np.ndarray, np.ndarray]:
    """`[(keys [N], priorities [N])]` in submission order -> unique keys and their priorities (uint64, float64):
    the max within one update, the latest update's value across updates."""
    merged: dict[int, float] = {}
    for keys, priorities in updates:
        keys = np.asarray(keys).reshape(-1)
        priorities = np.asarray(priorities, np.float64).reshape(-1)
        unique, inverse = np.unique(keys, return_inverse=True)
        maxima = np.full(unique.shape, -np.inf)
        np.maximum.at(maxima, inverse, priorities)
        merged.update(zip(unique.tolist(), maxima.tolist()))
    return np.fromiter(merged.keys(), np.uint64, len(merged)), np.fromiter(merged.values(), np.float64, len(merged))
