"""SequenceAdder with R2D2's layout: items of item_length steps starting every period_steps, overlapping."""

import numpy as np
from replay_testlib import STEP_SPEC, make_step

from vtrax import replay


def test_items_of_five_steps_start_every_three_steps():
    table = replay.TableConfig(kind="prioritized", name="seq", step_spec=STEP_SPEC, num_envs=1, unroll_length=4,
                               item_length=5, max_size=100, priority_exponent=0.0)
    server = replay.start_server([table], host="127.0.0.1", checkpoint_period_s=None)
    try:
        adder = replay.SequenceAdder(server.address, "seq", STEP_SPEC, 1, 4, item_length=5, period_steps=3)
        for t in range(12):
            adder.append(make_step(t, 1))
        adder.close()
        assert replay.info(server.address)["seq"]["current_size"] == 3  # items start at steps 0, 3 and 6
        with replay.ReplayDataset(server.address, "seq", batch_size=60, prefetch=1) as dataset:
            batch = next(dataset)
        steps = batch["observation"][0, :, :, 0]  # [60, 5]: each row is t0 .. t0 + 4
        assert set(steps[:, 0].astype(int).tolist()) == {0, 3, 6}
        np.testing.assert_array_equal(steps - steps[:, :1], np.tile(np.arange(5), (60, 1)))
    finally:
        server.stop(final_checkpoint=False)
