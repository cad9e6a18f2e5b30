"""Checkpoints: SIGKILL + restart brings back the checkpointed items; SIGTERM writes a final one.

Also the adder's side of an outage: created before the server is up (one log
line, then it connects) and kept open across a server restart.
"""

import dataclasses
import logging
import os
import threading

import numpy as np
import pytest
from replay_testlib import STEP_SPEC, free_port, make_step

from vtrax import replay
from vtrax.replay import checkpoint_files
from vtrax.replay.checkpoint_files import newest_checkpoint

NUM_ENVS, UNROLL = 2, 2
TABLES = [replay.TableConfig(kind="queue", name="ckpt", step_spec=STEP_SPEC, num_envs=NUM_ENVS,
                             unroll_length=UNROLL, max_size=32)]


def _start(port, checkpoint_dir):
    return replay.ReplayServerProcess(tables=TABLES, port=port, checkpoint_dir=str(checkpoint_dir),
                                      checkpoint_period_s=0)


def _append_items(adder, first_item, num_items):
    start = first_item * UNROLL + (0 if first_item == 0 else 1)
    for t in range(start, (first_item + num_items) * UNROLL + 1):
        adder.append(make_step(t, NUM_ENVS))


def _first_steps(address, num_items):
    with replay.ReplayDataset(address, "ckpt", batch_size=NUM_ENVS, connect_timeout_s=60) as dataset:
        batches = [next(dataset) for _ in range(num_items)]
    for batch in batches:  # every env of an item holds the same steps
        np.testing.assert_array_equal(batch["observation"][0, :, :, 0], batch["observation"][0, :1, :, 0].repeat(2, 0))
    return [int(batch["observation"][0, 0, 0, 0]) for batch in batches], batches


def test_checkpoint_survives_sigkill_and_sigterm_writes_a_final_one(tmp_path, caplog):
    port = free_port()
    caplog.set_level(logging.WARNING, logger="vtrax.replay.connection")
    adders = []
    sequence_adder = replay.SequenceAdder  # NOTE: Reverb imported here, so the adder's first try comes at once
    connect = threading.Thread(target=lambda: adders.append(
        sequence_adder(f"localhost:{port}", "ckpt", STEP_SPEC, NUM_ENVS, UNROLL, connect_timeout_s=120)))
    connect.start()  # the adder starts waiting before the server exists
    server = _start(port, tmp_path)
    try:
        connect.join(120)
        (adder,) = adders
        not_up = [r for r in caplog.records if "not reachable yet" in r.getMessage()]
        assert len(not_up) == 1, [r.getMessage() for r in caplog.records]

        _append_items(adder, 0, 3)                  # items 0, 1, 2
        checkpoint = server.checkpoint()
        assert os.path.isfile(os.path.join(checkpoint, "DONE"))
        _append_items(adder, 3, 2)                  # items 3, 4: after the checkpoint
        assert replay.info(server.address)["ckpt"]["current_size"] == 5
        assert server.kill() == -9                  # SIGKILL: no final checkpoint

        server = _start(port, tmp_path)             # same port, same checkpoint dir
        assert replay.info(server.address)["ckpt"]["current_size"] == 3
        _append_items(adder, 5, 1)                  # the adder reconnects by itself
        adder.close()
        first_steps, batches = _first_steps(server.address, 4)
        assert first_steps == [0, UNROLL, 2 * UNROLL, 5 * UNROLL]
        np.testing.assert_array_equal(batches[3]["observation"][0, 0, :, 0], np.arange(5 * UNROLL, 6 * UNROLL + 1))

        with replay.SequenceAdder(server.address, "ckpt", STEP_SPEC, NUM_ENVS, UNROLL) as adder:
            _append_items(adder, 0, 2)
        assert server.stop() == 0                   # SIGTERM: final checkpoint, exit 0

        server = _start(port, tmp_path)
        assert replay.info(server.address)["ckpt"]["current_size"] == 2
        assert _first_steps(server.address, 2)[0] == [0, UNROLL]
    finally:
        for adder in adders:
            adder.close()
        server.kill()


def test_in_process_server_checkpoints_periodically(tmp_path):
    server = replay.start_server(TABLES, checkpoint_dir=str(tmp_path), checkpoint_period_s=0.2)
    try:
        with replay.SequenceAdder(server.address, "ckpt", STEP_SPEC, NUM_ENVS, UNROLL) as adder:
            _append_items(adder, 0, 1)
        # Each period writes a new checkpoint (Reverb deletes the previous one).
        seen = set()
        for _ in range(600):
            seen.update(name for name in os.listdir(tmp_path) if os.path.isfile(tmp_path / name / "DONE"))
            if len(seen) >= 3:
                break
            threading.Event().wait(0.05)
        assert len(seen) >= 3, seen
    finally:
        server.stop(final_checkpoint=False)        # only the periodic checkpoints hold the item
    with replay.start_server(TABLES, checkpoint_dir=str(tmp_path), checkpoint_period_s=None) as server:
        assert replay.info(server.address)["ckpt"]["current_size"] == 1


def test_an_outage_is_logged_once_and_unconfirmed_items_are_reported(tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="vtrax.replay.adder")
    server = _start(free_port(), tmp_path)
    try:
        adder = replay.SequenceAdder(server.address, "ckpt", STEP_SPEC, NUM_ENVS, UNROLL, connect_timeout_s=60,
                                     retry_timeout_s=2.0)
        _append_items(adder, 0, 1)                  # item 0 written and confirmed
        assert server.kill() == -9                  # the server goes away for good
        try:
            _append_items(adder, 1, 1)              # item 1 cannot be confirmed
        except replay.ReplayConnectionError as error:
            message = str(error)
        else:
            raise AssertionError("append() returned although the server was gone")
        assert "unreachable" in message and "1 item(s)" in message and "were not confirmed" in message
        assert "vtrax replay-server" in message, message
        outages = [r.getMessage() for r in caplog.records if "unreachable; 1 item(s) wait" in r.getMessage()]
        assert len(outages) == 1, [r.getMessage() for r in caplog.records]
    finally:
        server.kill()


def _dqn_table():
    """The DQN agent's table config (CartPole preset), small enough to sample from at once; its rate limiter
    (4 samples per insert) allows the samples the test draws from 5 items."""
    import dataclasses

    from vtrax.actors.environments import env_spec
    from vtrax.deploy.agents import get_agent
    from vtrax.deploy.config import preset

    config = preset("cartpole", agent="dqn")
    config = dataclasses.replace(config, num_envs_per_actor=2,
                                 dqn=dataclasses.replace(config.dqn, min_replay_size=1, max_replay_size=64,
                                                         samples_per_insert_tolerance=1000.0))
    return get_agent("dqn").replay_table(config, env_spec("CartPole-v1"))


def _insert_transitions(client, table, values):
    """One item per value; every field of item `v` is filled with `v` ([1, num_envs, ...] slabs)."""
    signature = replay.item_signature(table.step_spec, table.num_envs, 0)
    with client.trajectory_writer(num_keep_alive_refs=1) as writer:
        for value in values:
            writer.append({name: np.full(spec.shape.as_list()[1:], value, spec.dtype.as_numpy_dtype)
                           for name, spec in signature.items()})
            writer.create_item(table.name, priority=1.0,
                               trajectory={name: writer.history[name][-1:] for name in signature})
        writer.flush()


def _sampled_items(client, table_name, num_samples=48):
    """{key: (item value, priority, probability)} of the items seen in `num_samples` samples."""
    items = {}
    for sample in client.sample(table_name, num_samples=num_samples, emit_timesteps=False):
        info = sample.info
        items[int(info.key)] = (int(sample.data[0].flat[0]), float(info.priority), float(info.probability))
    return items


@pytest.mark.timeout(150)
def test_a_prioritised_table_survives_sigkill_with_its_items_and_priorities(tmp_path):
    """DQN's table: priorities written back before a checkpoint come back after SIGKILL + restart; items
    inserted and priorities changed after the checkpoint do not. A newest checkpoint that cannot be read is
    set aside and the one before it (kept beside it) loaded."""
    import reverb

    table = _dqn_table()
    assert table.kind == "prioritized" and table.worth_checkpointing
    port = free_port()
    checkpoint_dir = str(tmp_path / "replay")
    start = lambda: replay.ReplayServerProcess(tables=[table], port=port, checkpoint_dir=checkpoint_dir,  # noqa: E731
                                               checkpoint_period_s=0)
    server = start()
    try:
        client = reverb.Client(server.address)
        _insert_transitions(client, table, range(5))
        key_of = {value: key for key, (value, _, _) in _sampled_items(client, table.name).items()}
        assert sorted(key_of) == list(range(5))
        priorities = {key_of[value]: float(value + 1) for value in range(5)}   # item v: priority v + 1
        client.mutate_priorities(table.name, updates=priorities)
        checkpoint = server.checkpoint()
        client.mutate_priorities(table.name, updates={key_of[0]: 100.0})       # after the checkpoint: lost
        _insert_transitions(client, table, [5, 6])                             # after the checkpoint: lost
        assert replay.info(server.address)[table.name]["current_size"] == 7
        assert server.kill() == -9

        server = start()                                                      # same port, same directory
        assert server.restored_from == checkpoint
        assert server.restored_counts[table.name] == {"current_size": 5, "num_inserts": 5}
        assert replay.info(server.address)[table.name]["current_size"] == 5
        restored = _sampled_items(reverb.Client(server.address), table.name)
        assert {value for value, _, _ in restored.values()} == set(range(5))
        total = sum(p ** table.priority_exponent for p in priorities.values())
        for key, (value, priority, probability) in restored.items():
            assert key == key_of[value]
            assert priority == priorities[key]
            np.testing.assert_allclose(probability, priority ** table.priority_exponent / total, rtol=1e-5)

        _insert_transitions(reverb.Client(server.address), table, [7])
        newest = server.checkpoint()                 # 6 items; the one before (5 items) is kept beside it
        kept = os.path.join(f"{checkpoint_dir}.previous", os.path.basename(checkpoint))
        assert os.path.isfile(os.path.join(kept, "DONE")) and not os.path.exists(checkpoint)
        assert server.kill() == -9
        chunks = os.path.join(newest, "chunks.tfrecord")
        with open(chunks, "r+b") as f:                # a disk fault: the newest checkpoint's data cut short
            f.truncate(os.path.getsize(chunks) // 2)
        server = start()
        assert server.restored_from == kept
        set_aside = os.path.join(f"{checkpoint_dir}.unreadable", os.path.basename(newest))
        assert [line.split(": ")[0] for line in server.unreadable] == [set_aside], server.unreadable
        assert os.path.isfile(os.path.join(set_aside, "DONE")) and not os.path.exists(newest)  # kept, not deleted
        assert server.restored_counts[table.name] == {"current_size": 5, "num_inserts": 5}
        assert {value for value, _, _ in _sampled_items(reverb.Client(server.address), table.name).values()} == \
            set(range(5))
    finally:
        server.kill()


def test_a_corrupt_checkpoint_is_set_aside_and_one_of_other_tables_is_refused_untouched(tmp_path):
    """Bytes changed in place fail Reverb's record CRCs: set aside, the one before loaded. A checkpoint of
    other tables is the caller's mistake (a ValueError naming the table), never set aside as unreadable."""
    checkpoint_dir = str(tmp_path / "replay")
    with replay.start_server(TABLES, checkpoint_dir=checkpoint_dir, checkpoint_period_s=None) as server:
        with replay.SequenceAdder(server.address, "ckpt", STEP_SPEC, NUM_ENVS, UNROLL) as adder:
            _append_items(adder, 0, 2)
        first = server.checkpoint()
        second = server.checkpoint()                 # stop() writes a third: the second is kept beside it
    newest = newest_checkpoint(checkpoint_dir)
    other = [dataclasses.replace(TABLES[0], name="other")]
    with pytest.raises(ValueError, match="table 'ckpt' but table was not found"):
        replay.start_server(other, checkpoint_dir=checkpoint_dir, checkpoint_period_s=None)
    assert newest_checkpoint(checkpoint_dir) == newest  # refused, not moved
    with open(os.path.join(newest, "chunks.tfrecord"), "r+b") as f:  # same size, other bytes
        f.seek(20)
        f.write(b"\xff" * 40)
    with replay.start_server(TABLES, checkpoint_dir=checkpoint_dir, checkpoint_period_s=None) as server:
        assert server.unreadable == [f"{checkpoint_dir}.unreadable/{os.path.basename(newest)}: corrupted record at 0 "
                                     "(Is this even a TFRecord file?)"]
        assert server.restored_from == os.path.join(f"{checkpoint_dir}.previous", os.path.basename(second))
        assert server.restored_counts["ckpt"]["current_size"] == 2 and first != second


def test_checkpoint_problem_names_a_missing_file_and_one_cut_short(tmp_path):
    checkpoint = tmp_path / "2026-12-08T00:00:00+00:00"
    checkpoint.mkdir()
    for name in checkpoint_files.CHECKPOINT_FILES:
        (checkpoint / name).write_bytes(b"x" * 100)
    assert checkpoint_files.checkpoint_problem(str(checkpoint)) is None  # no sizes yet: Reverb's CRCs check
    checkpoint_files.record_sizes(str(checkpoint))
    assert checkpoint_files.checkpoint_problem(str(checkpoint)) is None
    (checkpoint / "items.tfrecord").write_bytes(b"x" * 60)
    assert checkpoint_files.checkpoint_problem(str(checkpoint)) == "items.tfrecord has 60 bytes, 100 when written"
    (checkpoint / "chunks.tfrecord").unlink()
    assert checkpoint_files.checkpoint_problem(str(checkpoint)) == "no chunks.tfrecord"
