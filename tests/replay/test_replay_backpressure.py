"""A full queue blocks the writer; sampling frees it; inserted == sampled at the end."""

import threading
import time

import numpy as np
from replay_testlib import STEP_SPEC, make_step

from vtrax import replay

TABLE, NUM_ENVS, UNROLL, MAX_SIZE, NUM_ITEMS = "backpressure", 2, 2, 3, 7


def _wait_for(condition, timeout_s=30.0):
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not reached within the (generous) timeout"
        time.sleep(0.05)


def test_full_queue_blocks_the_writer_until_the_learner_samples(replay_server):
    address = replay_server.address
    adder = replay.SequenceAdder(address, TABLE, STEP_SPEC, NUM_ENVS, UNROLL)
    errors = []

    def write():
        try:
            for t in range(NUM_ITEMS * UNROLL + 1):
                adder.append(make_step(t, NUM_ENVS))
        except Exception as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    try:
        _wait_for(lambda: replay.info(address)[TABLE]["current_size"] == MAX_SIZE)
        _wait_for(lambda: adder.stats()["items_created"] == MAX_SIZE + 1)
        time.sleep(0.5)
        # Still blocked: the 4th item was created but the queue holds only 3.
        assert writer.is_alive()
        stats = adder.stats()
        assert (stats["items_created"], stats["items_confirmed"]) == (MAX_SIZE + 1, MAX_SIZE)
        assert stats["steps_appended"] == (MAX_SIZE + 1) * UNROLL + 1
        table = replay.info(address)[TABLE]
        assert table["current_size"] == MAX_SIZE and not table["rate_limiter"]["can_insert"]

        with replay.ReplayDataset(address, TABLE, batch_size=NUM_ENVS, connect_timeout_s=60) as dataset:
            batches = [next(dataset) for _ in range(NUM_ITEMS)]
            writer.join(30.0)
            assert not writer.is_alive() and not errors, errors
    finally:
        adder.close()

    first_steps = [int(b["observation"][0, 0, 0, 0]) for b in batches]
    assert first_steps == [item * UNROLL for item in range(NUM_ITEMS)]
    table = replay.info(address)[TABLE]
    assert table["num_inserts"] == table["num_samples"] == NUM_ITEMS
    assert table["current_size"] == 0
    np.testing.assert_array_equal(batches[-1]["observation"][0, :, -1, 0], [NUM_ITEMS * UNROLL] * NUM_ENVS)
