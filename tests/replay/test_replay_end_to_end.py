"""Server, writer and sampler in three processes over localhost: every item comes out once, in order.

The server is the session's `replay_server` process, the writer is
`_writer_process.py` (a `SequenceAdder`), the sampler is this process (a
`ReplayDataset`). Step t of env e is `replay_testlib.make_step(t)[..][e]`, so each
sampled sequence says which steps and env it holds.
"""

import numpy as np
import pytest
from replay_testlib import UNROLL, make_step, start_writer

from vtrax import replay

CASES = [
    # table, num_envs, num_items, batch_size, num_devices
    ("seq_e1", 1, 8, 4, 2),
    ("seq_e16", 16, 6, 12, 2),   # batch_size not a multiple of num_envs: leftovers carry over
]


@pytest.fixture(scope="module")
def writer(replay_server):
    """One writer process for both tables (one table after the other)."""
    process = start_writer(replay_server.address, [(table, envs, UNROLL, items) for table, envs, items, _, _ in CASES])
    try:
        yield process
        output, _ = process.communicate(timeout=120)
        assert process.returncode == 0, output
    finally:
        process.kill()


def _read_all(address, table, batch_size, num_devices, num_sequences):
    batches = []
    with replay.ReplayDataset(address, table, batch_size, num_devices=num_devices, connect_timeout_s=60) as dataset:
        for _ in range(num_sequences // batch_size):
            batches.append(next(dataset))
    # [num_batches, D, B/D, T+1, ...] -> [num_sequences, T+1, ...] in sampling order.
    return {name: np.concatenate([b[name].reshape((-1,) + b[name].shape[2:]) for b in batches])
            for name in batches[0]}


@pytest.mark.parametrize("table, num_envs, num_items, batch_size, num_devices", CASES)
def test_every_item_comes_out_once_in_order_with_overlaps(replay_server, writer, table, num_envs, num_items,
                                                          batch_size, num_devices):
    sequences = _read_all(replay_server.address, table, batch_size, num_devices, num_items * num_envs)

    steps = [make_step(t, num_envs) for t in range(num_items * UNROLL + 1)]
    for index in range(num_items * num_envs):
        item, env = divmod(index, num_envs)  # FIFO: item order, then env order inside the slab
        first = item * UNROLL
        for name, value in sequences.items():
            expected = np.stack([steps[first + t][name][env] for t in range(UNROLL + 1)])
            np.testing.assert_array_equal(value[index], expected, err_msg=f"{table} item {item} env {env} {name}")

    # Overlap: each item's last step is the next item's first step, per env.
    observation = sequences["observation"].reshape(num_items, num_envs, UNROLL + 1, 2)
    np.testing.assert_array_equal(observation[1:, :, 0], observation[:-1, :, -1])
    # Every step 0 .. num_items * T appears, none is skipped.
    times = np.unique(observation[..., 0])
    np.testing.assert_array_equal(times, np.arange(num_items * UNROLL + 1))
    # Episode ends travel inside items as discount 0 (the writer ends env e's episode when (t + e) % 4 == 3).
    discount = sequences["discount"].reshape(num_items, num_envs, UNROLL + 1)
    t_grid = observation[..., 0].astype(int)
    env_grid = np.arange(num_envs)[None, :, None]
    np.testing.assert_array_equal(discount == 0.0, (t_grid + env_grid) % 4 == 3)

    info = replay.info(replay_server.address)[table]
    assert info["num_inserts"] == info["num_samples"] == num_items
    assert info["current_size"] == 0
