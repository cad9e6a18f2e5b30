"""ReplayDataset: argument checks, clean stop on an empty table, wait counters, info()."""

import numpy as np
import pytest
from replay_testlib import STEP_SPEC, make_step

from vtrax import replay


def test_batch_size_must_divide_by_devices():
    with pytest.raises(ValueError, match="batch_size 10 is not divisible by num_devices 4"):
        replay.ReplayDataset("localhost:1", "t", batch_size=10, num_devices=4)
    with pytest.raises(ValueError, match="batch_size, num_devices and prefetch must be >= 1"):
        replay.ReplayDataset("localhost:1", "t", batch_size=4, prefetch=0)


def test_close_stops_the_thread_while_the_table_is_empty(replay_server):
    # "uniform" needs 2 items before sampling; it is empty here, so the stream keeps timing out.
    dataset = replay.ReplayDataset(replay_server.address, "uniform", batch_size=4)
    for _ in range(100):
        if dataset.counts["streams"] >= 2:  # the thread is inside its reopen loop
            break
        threading_wait(0.05)
    dataset.close(timeout_s=10.0)
    assert dataset.closed
    with pytest.raises(StopIteration):
        next(dataset)


def test_uniform_batches_carry_info_and_count_wait_time(replay_server):
    address = replay_server.address
    with replay.SequenceAdder(address, "uniform", STEP_SPEC, num_envs=2, unroll_length=2) as adder:
        for t in range(2 * 2 + 1):
            adder.append(make_step(t, 2))
    with replay.ReplayDataset(address, "uniform", batch_size=6, num_devices=2) as dataset:
        batch = next(dataset)
        assert dataset.wait_s_total >= dataset.last_wait_s >= 0.0
    assert batch["observation"].shape == (2, 3, 3, 2)
    assert batch["behaviour_logits"].shape == (2, 3, 3, 3)
    assert batch["info/key"].shape == (2, 3) and batch["info/key"].dtype == np.uint64
    assert set(np.unique(batch["observation"][..., 0, 0])) <= {0.0, 2.0}
    table = replay.info(address)["uniform"]
    assert table["kind"] == "uniform" and table["current_size"] == 2 and table["num_inserts"] == 2
    assert table["signature"]["observation"] == ([3, 2, 2], "float32")


def test_missing_table_is_reported_to_the_consumer(replay_server):
    with replay.ReplayDataset(replay_server.address, "nope", batch_size=1) as dataset:
        with pytest.raises(replay.ReplayDatasetError, match="has no table 'nope'"):
            next(dataset)


def threading_wait(seconds):
    import threading

    threading.Event().wait(seconds)
