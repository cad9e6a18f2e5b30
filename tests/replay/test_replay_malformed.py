"""Malformed steps get a clear error naming the field; the server keeps serving everyone else."""

import numpy as np
import pytest
import reverb
from replay_testlib import STEP_SPEC, make_step

from vtrax import replay

TABLE, NUM_ENVS, UNROLL = "malformed", 4, 3


@pytest.fixture(scope="module")
def adder(replay_server):
    with replay.SequenceAdder(replay_server.address, TABLE, STEP_SPEC, NUM_ENVS, UNROLL) as adder:
        yield adder


@pytest.mark.parametrize("change, message", [
    (lambda s: s.update(observation=np.zeros((NUM_ENVS, 3), np.float32)),
     r"step\['observation'\] has shape \(4, 3\) but table 'malformed' expects \(4, 2\)"),
    (lambda s: s.update(action=np.zeros(NUM_ENVS + 1, np.int32)),
     r"step\['action'\] has shape \(5,\) but table 'malformed' expects \(4,\)"),
    (lambda s: s.update(reward=np.zeros(NUM_ENVS, np.float64)),
     r"step\['reward'\] has dtype float64 but table 'malformed' expects float32; convert it with "
     r"np.asarray\(x, np.float32\)"),
    (lambda s: s.pop("behaviour_logits"), r"missing fields \['behaviour_logits'\] and has unexpected fields \[\]"),
    (lambda s: s.update(value=np.zeros(NUM_ENVS, np.float32)), r"unexpected fields \['value'\]"),
])
def test_malformed_step_is_refused_with_the_field_named(replay_server, adder, change, message):
    step = make_step(0, NUM_ENVS)
    change(step)
    with pytest.raises(ValueError, match=message):
        adder.append(step)


def test_adder_for_a_different_layout_is_refused_at_connect(replay_server):
    with pytest.raises(ValueError, match=r"table 'malformed' at .* stores 'action' as int32\[4, 4\] but this adder "
                                         r"writes int32\[4, 8\]"):
        replay.SequenceAdder(replay_server.address, TABLE, STEP_SPEC, num_envs=8, unroll_length=UNROLL)
    with pytest.raises(ValueError, match=r"has no table 'nope'"):
        replay.SequenceAdder(replay_server.address, "nope", STEP_SPEC, NUM_ENVS, UNROLL)


def test_raw_reverb_writer_with_wrong_item_is_refused_by_the_table_signature(replay_server):
    client = reverb.Client(replay_server.address)
    writer = client.trajectory_writer(num_keep_alive_refs=UNROLL + 1)
    bad = {**make_step(0, NUM_ENVS), "observation": np.zeros((NUM_ENVS, 5), np.float32)}
    for _ in range(UNROLL + 1):
        writer.append(bad)
    refused = (r"(?s)inconsistent with the table signature. The table expects column 3 to be a float \[4,4,2\] "
               r"tensor but got a float \[4,4,5\].*3: Tensor<name: 'observation'")
    with pytest.raises(ValueError, match=refused):
        writer.create_item(TABLE, 1.0, {k: writer.history[k][-(UNROLL + 1):] for k in bad})
    writer.close()


def test_server_keeps_serving_after_malformed_inserts(replay_server, adder):
    # The refused steps above wrote nothing: the good steps below form exactly two items.
    for t in range(2 * UNROLL + 1):
        adder.append(make_step(t, NUM_ENVS))
    other = replay.SequenceAdder(replay_server.address, TABLE, STEP_SPEC, NUM_ENVS, UNROLL)
    for t in range(UNROLL + 1):
        other.append(make_step(100 + t, NUM_ENVS))
    other.close()
    with replay.ReplayDataset(replay_server.address, TABLE, batch_size=NUM_ENVS) as dataset:
        first_steps = [int(next(dataset)["observation"][0, 0, 0, 0]) for _ in range(3)]
    assert first_steps == [0, UNROLL, 100]
    assert replay.info(replay_server.address)[TABLE]["num_inserts"] == 3
