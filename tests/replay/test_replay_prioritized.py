"""Prioritised table: learner priority updates change how often items are sampled.

Reverb's prioritised sampler seeds itself (no seed can be passed in 0.14), so the
bounds are generous: 6 standard deviations of the sampled frequency.
"""

import numpy as np
from replay_testlib import STEP_SPEC, make_step

from vtrax import replay

TABLE, NUM_ITEMS, NUM_SAMPLES = "prioritized", 4, 2000


def _sample_items(address):
    """Item index (its first step), key and info fields of NUM_SAMPLES sampled sequences."""
    with replay.ReplayDataset(address, TABLE, batch_size=200, prefetch=1) as dataset:
        batches = [next(dataset) for _ in range(NUM_SAMPLES // 200)]
    first = np.concatenate([b["observation"][0, :, 0, 0] for b in batches]).astype(int)
    field = lambda name: np.concatenate([b[name][0] for b in batches])  # noqa: E731
    return first, field("info/key"), field("info/priority"), field("info/probability")


def _assert_frequencies(first, expected):
    frequencies = np.bincount(first, minlength=NUM_ITEMS) / len(first)
    bound = 6 * np.sqrt(expected * (1 - expected) / len(first))
    assert np.all(np.abs(frequencies - expected) <= bound), (frequencies, expected)


def test_priority_updates_change_sampling_frequencies(replay_server):
    address = replay_server.address
    with replay.SequenceAdder(address, TABLE, STEP_SPEC, num_envs=1, unroll_length=1) as adder:
        for t in range(NUM_ITEMS + 1):  # item i holds steps i, i + 1
            adder.append(make_step(t, 1))

    first, keys, priorities, probabilities = _sample_items(address)
    _assert_frequencies(first, np.full(NUM_ITEMS, 1 / NUM_ITEMS))
    np.testing.assert_allclose(priorities, 1.0)
    np.testing.assert_allclose(probabilities, 1 / NUM_ITEMS)
    key_of = {int(item): int(key) for item, key in zip(first, keys)}
    assert len(set(key_of.values())) == NUM_ITEMS

    new_priorities = np.array([1.0, 2.0, 4.0, 8.0])
    dataset = replay.ReplayDataset(address, TABLE, batch_size=1)
    try:
        # Duplicate keys (as a slab's envs give) take the max: item 3 ends at 8, not 0.5.
        dataset.update_priorities(np.array([key_of[i] for i in range(NUM_ITEMS)] + [key_of[3]], np.uint64),
                                  np.append(new_priorities, 0.5))
    finally:
        dataset.close()

    first, keys, priorities, probabilities = _sample_items(address)
    expected = new_priorities / new_priorities.sum()  # priority_exponent = 1
    _assert_frequencies(first, expected)
    np.testing.assert_allclose(priorities, new_priorities[first])
    np.testing.assert_allclose(probabilities, expected[first], rtol=1e-6)
