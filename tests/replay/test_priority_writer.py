"""PriorityWriter on a real Reverb table: updates land in order, and close() flushes what is queued."""

import threading

import jax.numpy as jnp
import numpy as np
from replay_testlib import start_transition_server

from vtrax import replay


def test_queued_updates_are_written_in_order_and_flushed_at_close():
    server = start_transition_server("p", num_envs=1, observation_size=1)
    try:
        adder = replay.NStepAdder(server.address, "p", (1,), np.float32, 1, n_step=1, discount=0.9)
        for t in range(4):  # 3 transitions
            adder.append({"observation": np.full((1, 1), t, np.float32), "action": np.zeros(1, np.int32),
                          "reward": np.ones(1, np.float32), "discount": np.ones(1, np.float32),
                          "valid": np.ones(1, bool), "param_version": np.zeros(1, np.int32)})
        adder.close()
        dataset = replay.ReplayDataset(server.address, "p", batch_size=30, prefetch=1)
        batch = next(dataset)
        key_of = dict(zip(batch["observation"][0, :, 0, 0].astype(int).tolist(), batch["info/key"][0].tolist()))
        assert sorted(key_of) == [0, 1, 2]
        keys = np.array([key_of[0], key_of[1], key_of[2]], np.uint64)
        release = threading.Event()

        def slow_write(keys, priorities):  # holds the first write so the others queue up behind it
            release.wait(5.0)
            dataset.update_priorities(keys, priorities)

        writer = replay.PriorityWriter(slow_write)
        writer.submit(keys, jnp.array([5.0, 5.0, 5.0]))  # a device array, fetched on the writer's thread
        writer.submit(keys, np.array([1.0, 2.0, 7.0]))  # the later update of the same keys wins
        assert writer.pending >= 1
        release.set()
        writer.close()
        assert writer.written == 2 and writer.failed == 0 and writer.pending == 0
        dataset.close()
        with replay.ReplayDataset(server.address, "p", batch_size=300, prefetch=1) as fresh:
            batch = next(fresh)
        first = batch["observation"][0, :, 0, 0].astype(int)
        np.testing.assert_allclose(batch["info/priority"][0], np.array([1.0, 2.0, 7.0])[first])
        np.testing.assert_allclose(batch["info/probability"][0], np.array([0.1, 0.2, 0.7])[first], rtol=1e-6)
    finally:
        server.stop(final_checkpoint=False)


def test_merged_updates_take_the_max_within_an_update_and_the_latest_across_updates():
    from vtrax.replay.priority_writer import merge_updates

    keys, priorities = merge_updates([(np.array([1, 1, 2], np.uint64), np.array([0.5, 3.0, 1.0])),
                                      (np.array([2, 3, 3], np.uint64), jnp.array([0.25, 4.0, 2.0]))])
    assert dict(zip(keys.tolist(), priorities.tolist())) == {1: 3.0, 2: 0.25, 3: 4.0}
    assert keys.dtype == np.uint64
