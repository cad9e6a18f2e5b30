"""The Learner loop: publishing, counters, metrics callback, stop paths, non-finite stop, resume."""

import itertools
import os
import threading

import jax
import numpy as np
import pytest

from vtrax import learner

OBS_SHAPE = (4,)


def _config(**overrides):
    values = dict(batch_size=8, unroll_length=5, checkpoint_period_s=3600.0)
    values.update(overrides)
    return learner.cartpole_config(**values)


def _network():
    return learner.make_network("mlp", 2, hidden_sizes=(16,))


def _batches(config, network, num_devices=1, poison_from=None):
    for index in itertools.count():
        batch = learner.synthetic_batch(config, network, OBS_SHAPE, num_devices=num_devices, seed=index % 4)
        if poison_from is not None and index >= poison_from:
            batch["observation"][0, 0, 0, 0] = np.inf
        yield batch


class Recorder:
    """Collects what the learner hands to its callbacks."""

    def __init__(self):
        self.published, self.metrics = [], []

    def publish(self, version, params):
        self.published.append((version, params))

    def on_metrics(self, metrics):
        self.metrics.append(metrics)


def _learner(config, recorder, batches, **kwargs):
    return learner.Learner(config, _network(), batches, recorder.publish, metrics_callback=recorder.on_metrics,
                           **kwargs)


def test_initial_params_are_published_before_any_update():
    config, recorder = _config(), Recorder()
    agent = _learner(config, recorder, _batches(config, _network()), num_devices=1)
    assert [version for version, _ in recorder.published] == [0]
    params = recorder.published[0][1]
    assert all(isinstance(leaf, np.ndarray) for leaf in jax.tree_util.tree_leaves(params))
    assert agent.version == agent.num_updates == agent.num_frames == 0


def test_run_counts_updates_frames_publishes_and_reports_metrics():
    config, recorder = _config(publish_period_updates=2), Recorder()
    agent = _learner(config, recorder, _batches(config, _network()), num_devices=1)
    assert agent.run(max_updates=5) == 5
    assert (agent.version, agent.num_updates, agent.num_frames) == (5, 5, 5 * 8 * 5)
    # Every 2nd update, then the final params on exit.
    assert [version for version, _ in recorder.published] == [0, 2, 4, 5]
    assert len(recorder.metrics) == 5
    last = recorder.metrics[-1]
    for name in learner.METRIC_NAMES + ("learner_wait_s", "learner_step_s", "version", "num_frames"):
        assert isinstance(last[name], float), name
    assert last["version"] == 5.0 and last["learner_step_s"] > 0
    # Published params are host copies that later updates do not change.
    first = recorder.published[1][1]
    snapshot = jax.tree_util.tree_map(np.copy, first)
    agent.run(max_updates=2)
    for a, b in zip(jax.tree_util.tree_leaves(first), jax.tree_util.tree_leaves(snapshot)):
        np.testing.assert_array_equal(a, b)


def test_run_stops_on_the_stop_event_and_at_the_end_of_the_batches():
    config, stop = _config(), threading.Event()
    agent = learner.Learner(config, _network(), _batches(config, _network()), Recorder().publish, num_devices=1,
                            stop_event=stop, metrics_callback=lambda m: stop.set() if m["version"] >= 3 else None)
    assert agent.run(max_updates=50) == 3
    finite = [learner.synthetic_batch(config, _network(), OBS_SHAPE, seed=i) for i in range(4)]
    agent = _learner(config, Recorder(), iter(finite), num_devices=1)  # first batch read for the shapes
    assert agent.run() == 4 and agent.version == 4


def test_pmap_over_four_devices_in_the_loop_with_a_checkpoint_round_trip(tmp_path):
    config, recorder = _config(), Recorder()
    agent = _learner(config, recorder, _batches(config, _network(), num_devices=4), num_devices=4,
                     logdir=str(tmp_path))
    agent.run(max_updates=2)
    assert agent.version == 2 and len(jax.tree_util.tree_leaves(agent.state.params)[0]) == 4
    resumed = _learner(config, Recorder(), _batches(config, _network(), num_devices=4), num_devices=4)
    resumed.restore(str(tmp_path))
    for a, b in zip(jax.tree_util.tree_leaves(agent.state), jax.tree_util.tree_leaves(resumed.state)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    resumed.run(max_updates=1)
    assert resumed.version == 3


def test_a_badly_shaped_batch_gets_a_clear_error():
    config = _config()
    wrong = learner.synthetic_batch(_config(unroll_length=7), _network(), OBS_SHAPE)
    with pytest.raises(ValueError, match=r"expects leading dims \(1, 8, 6\)"):
        _learner(config, Recorder(), iter([wrong]), num_devices=1).step()
    del wrong["reward"]
    with pytest.raises(ValueError, match=r"batch is missing \['reward'\]"):
        _learner(config, Recorder(), iter([wrong]), num_devices=1).step()


def test_non_finite_updates_are_skipped_then_stop_training_with_a_checkpoint(tmp_path):
    config, recorder = _config(max_consecutive_nonfinite=3), Recorder()
    agent = _learner(config, recorder, _batches(config, _network(), poison_from=2), num_devices=1,
                     logdir=str(tmp_path))
    agent.step(), agent.step()
    good_params = agent.params()
    assert agent.step()["skipped"] == 1.0 and agent.num_skipped_updates == 1 and agent.version == 2
    agent.step()
    with pytest.raises(learner.NonFiniteUpdatesError) as info:
        agent.step()
    message = str(info.value)
    assert "3 updates in a row had a non-finite loss or gradient" in message
    assert "version 2" in message and str(tmp_path) in message
    assert agent.num_skipped_updates == 3 and agent.num_frames == 5 * 8 * 5
    restored = _learner(config, Recorder(), _batches(config, _network()), num_devices=1)
    restored.restore(str(tmp_path))
    assert restored.version == 2 and restored.num_skipped_updates == 3
    for a, b in zip(jax.tree_util.tree_leaves(good_params), jax.tree_util.tree_leaves(restored.params())):
        np.testing.assert_array_equal(a, b)


def test_save_and_restore_resume_the_run(tmp_path):
    config = _config()
    agent = _learner(config, Recorder(), _batches(config, _network()), num_devices=1, logdir=str(tmp_path))
    agent.run(max_updates=3)  # saves on exit
    assert os.path.basename(learner.latest_checkpoint(str(tmp_path / "checkpoints"))) == "ckpt_000000000003"
    recorder = Recorder()
    resumed = _learner(config, recorder, _batches(config, _network()), num_devices=1, logdir=str(tmp_path))
    path = resumed.restore()
    assert path.endswith("ckpt_000000000003")
    assert (resumed.version, resumed.num_frames) == (3, 3 * 40)
    assert [version for version, _ in recorder.published] == [0, 3]
    for a, b in zip(jax.tree_util.tree_leaves(agent.params()), jax.tree_util.tree_leaves(resumed.params())):
        np.testing.assert_array_equal(a, b)
    resumed.run(max_updates=1)
    assert resumed.version == 4
    with pytest.raises(learner.CheckpointMismatchError, match="learning_rate"):
        _learner(_config(learning_rate=1e-4), Recorder(), _batches(config, _network()), num_devices=1).restore(
            str(tmp_path))


def test_periodic_checkpoints_follow_checkpoint_period_s(tmp_path):
    config = _config(checkpoint_period_s=1e-6, keep_checkpoints=2)
    agent = _learner(config, Recorder(), _batches(config, _network()), num_devices=1, logdir=str(tmp_path))
    for _ in range(3):
        agent.step()  # each starts an async save; the next save waits for the one before
    agent.wait_until_saved()
    names = [os.path.basename(p) for p in learner.list_checkpoints(str(tmp_path / "checkpoints"))]
    assert names == ["ckpt_000000000002", "ckpt_000000000003"]


def test_a_recurrent_agent_trains_from_the_stored_core_state():
    config = _config(batch_size=4, unroll_length=3)
    network = learner.make_network("impala_shallow", 3, use_lstm=True, lstm_size=8)
    batches = (learner.synthetic_batch(config, network, (36, 36, 1), observation_dtype=np.uint8, core_size=8,
                                       seed=seed) for seed in itertools.count())
    recorder = Recorder()
    agent = learner.Learner(config, network, batches, recorder.publish, num_devices=1,
                            metrics_callback=recorder.on_metrics)
    agent.run(max_updates=2)
    assert agent.version == 2 and all(m["skipped"] == 0.0 for m in recorder.metrics)
    missing_state = learner.synthetic_batch(config, network, (36, 36, 1), observation_dtype=np.uint8, core_size=8)
    del missing_state["core_state/hidden"], missing_state["core_state/cell"]
    with pytest.raises(ValueError, match=r"batch is missing \['core_state/\*'\]"):
        learner.Learner(config, network, iter([missing_state]), Recorder().publish, num_devices=1).step()
