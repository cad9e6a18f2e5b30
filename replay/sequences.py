"""Splitting slab items into per-env sequences and cutting them into device batches (numpy only).

A fetched group of k slab items has fields `[k, T + 1, num_envs, ...]`; it
becomes `k * num_envs` sequences `[T + 1, ...]` in (item, env) order. Batches of
`batch_size` sequences are cut from the front of the buffer; the leftovers wait
for the next items, so `batch_size` need not be a multiple of `num_envs` and no
sequence is dropped or repeated.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np


def split_slabs(items: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """`{field: [k, T + 1, E, ...]}` -> `{field: [k * E, T + 1, ...]}` in (item, env) order."""
    out = {}
    for name, value in items.items():
        k, length, num_envs = value.shape[:3]
        out[name] = np.swapaxes(value, 1, 2).reshape((k * num_envs, length) + value.shape[3:])  # [k*E, T+1, ...]
    return out


def repeat_per_env(values: np.ndarray, num_envs: int) -> np.ndarray:
    """Per-item values `[k]` -> per-sequence `[k * num_envs]` (each item's value for each of its envs)."""
    return np.repeat(np.asarray(values), num_envs, axis=0)


def to_device_batch(sequences: Mapping[str, np.ndarray], num_devices: int) -> dict[str, np.ndarray]:
    """`{field: [B, ...]}` -> `{field: [num_devices, B // num_devices, ...]}`."""
    return {name: value.reshape((num_devices, value.shape[0] // num_devices) + value.shape[1:])
            for name, value in sequences.items()}


class SequenceBuffer:
    """FIFO of per-env sequences; `take(n)` returns the oldest n of them."""

    def __init__(self):
        self._chunks: list[dict[str, np.ndarray]] = []
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def add(self, sequences: Mapping[str, np.ndarray]) -> None:
        """Append `{field: [n, ...]}` (all fields with the same n)."""
        sizes = {value.shape[0] for value in sequences.values()}
        if len(sizes) != 1:
            raise ValueError(f"all fields must hold the same number of sequences, got sizes {sorted(sizes)}")
        size = sizes.pop()
        if size:
            self._chunks.append(dict(sequences))
            self._size += size

    def take(self, n: int) -> dict[str, np.ndarray]:
        """The oldest `n` sequences as `{field: [n, ...]}`; raises ValueError if fewer are buffered."""
        if n > self._size:
            raise ValueError(f"asked for {n} sequences but only {self._size} are buffered")
        taken, count = [], 0
        while count < n:
            chunk = self._chunks[0]
            size = next(iter(chunk.values())).shape[0]
            need = n - count
            if size <= need:
                taken.append(self._chunks.pop(0))
                count += size
            else:
                taken.append({name: value[:need] for name, value in chunk.items()})
                self._chunks[0] = {name: value[need:] for name, value in chunk.items()}
                count += need
        self._size -= n
        if len(taken) == 1:
            return {name: np.ascontiguousarray(value) for name, value in taken[0].items()}
        return {name: np.concatenate([part[name] for part in taken]) for name in taken[0]}
