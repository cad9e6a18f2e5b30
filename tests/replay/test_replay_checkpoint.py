"""Checkpoints: SIGKILL + restart brings back the checkpointed items; SIGTERM writes a final one.

Also the adder's side of an outage: created before the server is up (one log
line, then it connects) and kept open across a server restart.
"""

import logging
import os
import threading

import numpy as np
from replay_testlib import STEP_SPEC, free_port, make_step

from vtrax import replay

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
    connect = threading.Thread(target=lambda: adders.append(
        replay.SequenceAdder(f"localhost:{port}", "ckpt", STEP_SPEC, NUM_ENVS, UNROLL, connect_timeout_s=120)))
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
