"""The samples-per-insert limiter of the off-policy tables blocks and releases writers and samplers exactly as
configured (real Reverb; a writer thread and a sampler thread).

Reverb's SampleToInsertRatio with ratio r, min size m and error buffer b keeps diff = r * inserts - samples in
[r m - b, r m + b] (reverb/cc/rate_limiter.cc): an insert is free while the table holds at most m items, and
otherwise goes through only if r * (inserts + 1) - samples <= r m + b; a sample needs at least m items and
r * inserts - (samples + 1) >= r m - b. Here r = 2, m = 3, b = 4 (diff in [2, 10]):

    inserts that go through       at most 5 + samples / 2
    samples that go through       at most 2 * inserts - 2 (once 3 items are in)
"""

import threading
import time

import numpy as np
import pytest
import reverb

from vtrax import replay

TABLE, SAMPLES_PER_INSERT, MIN_SIZE, TOLERANCE = "ratio", 2.0, 3, 4.0
SPEC = replay.transition_step_spec((1,), np.float32)
SETTLE_S = 0.5  # a blocked thread must stay blocked this long; a released one moves within milliseconds


@pytest.fixture
def ratio_table():
    config = replay.TableConfig(kind="prioritized", name=TABLE, step_spec=SPEC, num_envs=1, unroll_length=1,
                                item_length=1, max_size=100, min_size_to_sample=MIN_SIZE,
                                samples_per_insert=SAMPLES_PER_INSERT, samples_per_insert_tolerance=TOLERANCE)
    server = replay.start_server([config], host="127.0.0.1", checkpoint_period_s=None)
    try:
        yield server.address
    finally:
        server.stop(final_checkpoint=False)


def _item(index: int) -> dict[str, np.ndarray]:
    return {"observation": np.full((1, 1), index, np.float32), "action": np.zeros(1, np.int32),
            "reward": np.zeros(1, np.float32), "discount": np.ones(1, np.float32),
            "next_observation": np.zeros((1, 1), np.float32), "valid": np.ones(1, bool),
            "param_version": np.zeros(1, np.int32)}


class _Counting(threading.Thread):
    """Calls `action()` `total` times in a daemon thread, counting the calls that returned."""

    def __init__(self, action, total: int):
        super().__init__(daemon=True)
        self.action, self.total, self.done, self.errors = action, total, 0, []

    def run(self):
        try:
            for _ in range(self.total):
                self.action()
                self.done += 1
        except Exception as error:  # noqa: BLE001 - reported by the assertions
            self.errors.append(error)


def _settles_at(thread: _Counting, count: int, timeout_s: float = 30.0) -> None:
    """Wait until `thread` has done `count` calls, then check it stays there (it is blocked, not slow)."""
    deadline = time.monotonic() + timeout_s
    while thread.done < count and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(SETTLE_S)
    assert thread.done == count and thread.is_alive() and not thread.errors, (thread.done, count, thread.errors)


def _limiter(address: str) -> dict:
    return replay.info(address)[TABLE]["rate_limiter"]


def test_the_ratio_blocks_the_writer_when_the_learner_lags_and_the_sampler_when_actors_lag(ratio_table):
    address = ratio_table
    client = reverb.Client(address)
    sample_one = lambda: next(iter(client.sample(TABLE, num_samples=1)))  # noqa: E731 - blocks while limited
    limiter = _limiter(address)
    assert (limiter["min_diff"], limiter["max_diff"]) == (2.0, 10.0)  # r m -/+ b

    adder = replay.SequenceAdder(address, TABLE, SPEC, 1, 1, item_length=1, period_steps=1)
    writer = _Counting(lambda: adder.append(_item(writer.done)), total=7)
    try:
        writer.start()
        # The learner lags: 5 items go in without a sample (3 free, then 2 more within the buffer), the 6th waits.
        _settles_at(writer, 5)
        assert not _limiter(address)["can_insert"] and _limiter(address)["can_sample"]
        sample_one()
        _settles_at(writer, 5)  # one sample is half an insert's worth
        sample_one()
        _settles_at(writer, 6)  # two samples release exactly one insert
        for _ in range(2):
            sample_one()
        writer.join(10.0)
        assert writer.done == 7 and not writer.errors

        # The actors lag: 7 inserts allow 2 * 7 - 2 = 12 samples; 4 are taken, so 8 more go through, not 9.
        sampler = _Counting(sample_one, total=16)
        sampler.start()
        _settles_at(sampler, 8)
        assert not _limiter(address)["can_sample"] and _limiter(address)["can_insert"]
        adder.append(_item(7))
        _settles_at(sampler, 10)  # one insert releases exactly two samples
        for index in range(8, 11):  # 2 * 11 - 2 = 20 samples in all: the sampler's 16 + the 4 above
            adder.append(_item(index))
        sampler.join(10.0)
        assert sampler.done == 16 and not sampler.errors
    finally:
        adder.close()
    table = replay.info(address)[TABLE]
    assert (table["num_inserts"], table["num_samples"]) == (11, 20)
