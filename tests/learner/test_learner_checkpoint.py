"""Checkpoints (orbax, layout v2): round trip, keep-last-N, async saves, a save killed mid-write, mismatch errors,
the older layout v1 refused, and `import vtrax.learner` without orbax."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from vtrax import learner

NETWORK = {"kind": "mlp", "num_actions": 2, "hidden_sizes": [8]}


def _state(config, step=3, scale=1.0, size=8):
    params = {"mlp/~/linear_0": {"w": scale * jnp.arange(4.0 * size).reshape(4, size), "b": jnp.ones(size)},
              "head": {"w": -scale * jnp.ones((size, 3))}}
    opt_state = learner.make_optimizer(config).init(params)
    opt_state = jax.tree_util.tree_map(lambda x: x + 0.5 if x.dtype == jnp.float32 else x + 2, opt_state)
    return learner.TrainingState(params=params, opt_state=opt_state, step=jnp.asarray(step, jnp.int32))


def _assert_trees_equal(a, b):
    assert jax.tree_util.tree_structure(a) == jax.tree_util.tree_structure(b)
    for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def test_round_trip_restores_params_opt_state_step_counters_and_rng(tmp_path):
    config = learner.atari_config()
    state = _state(config, step=42)
    rng = jax.random.PRNGKey(5)
    path = learner.save_checkpoint(str(tmp_path), state, {"num_updates": 42, "num_frames": 26880}, config,
                                   NETWORK, keep=2, rng=rng)
    assert os.path.basename(path) == "ckpt_000000000042"
    restored = learner.restore_checkpoint(str(tmp_path), config, NETWORK, template=_state(config, step=0, scale=0))
    _assert_trees_equal(restored.state.params, state.params)
    _assert_trees_equal(restored.state.opt_state, state.opt_state)
    assert int(restored.state.step) == 42
    assert restored.counters == {"num_updates": 42, "num_frames": 26880}
    np.testing.assert_array_equal(restored.rng, np.asarray(rng))
    assert restored.path == path
    params = learner.load_params(str(tmp_path))
    _assert_trees_equal(params, jax.device_get(state.params))


def test_only_the_newest_keep_checkpoints_remain(tmp_path):
    config = learner.cartpole_config()
    for step in (1, 2, 3, 4):
        learner.save_checkpoint(str(tmp_path), _state(config, step=step), {}, config, NETWORK, keep=2)
    assert [os.path.basename(p) for p in learner.list_checkpoints(str(tmp_path))] == [
        "ckpt_000000000003", "ckpt_000000000004"]
    # Saving the same step again replaces it in place.
    learner.save_checkpoint(str(tmp_path), _state(config, step=4, scale=2.0), {}, config, NETWORK, keep=2)
    restored = learner.restore_checkpoint(str(tmp_path), config, NETWORK, template=_state(config))
    np.testing.assert_array_equal(restored.state.params["head"]["w"], -2.0 * np.ones((8, 3)))


_KILLED_SAVER = textwrap.dedent("""
    import sys
    import jax.numpy as jnp
    from vtrax import learner
    directory, size = sys.argv[1], int(sys.argv[2])
    config = learner.cartpole_config()
    params = {"big": {"w": jnp.full((size, 1024), 3.0, jnp.float32)}}
    opt_state = learner.make_optimizer(config).init(params)
    print("saving", flush=True)
    for step in range(6, 1000):  # keep saving newer checkpoints until killed
        state = learner.TrainingState(params, opt_state, jnp.asarray(step, jnp.int32))
        learner.save_checkpoint(directory, state, {"num_updates": step}, config, {"kind": "big"}, keep=1000)
""")


_TMP = ".orbax-checkpoint-tmp-"  # orbax writes a step here and renames it when final


def test_a_save_killed_mid_write_leaves_the_previous_checkpoint_loadable(tmp_path):
    config = learner.cartpole_config()
    size = 8192  # 32 MiB params + 64 MiB Adam moments per save
    params = {"big": {"w": jnp.full((size, 1024), 3.0, jnp.float32)}}
    good = learner.TrainingState(params, learner.make_optimizer(config).init(params), jnp.asarray(5, jnp.int32))
    first = learner.save_checkpoint(str(tmp_path), good, {"num_updates": 5}, config, {"kind": "big"}, keep=1000)

    process = subprocess.Popen([sys.executable, "-c", _KILLED_SAVER, str(tmp_path), str(size)],
                               stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout.readline().strip() == "saving"
        deadline = time.monotonic() + 60
        while not any(_TMP in name for name in os.listdir(tmp_path)):
            assert time.monotonic() < deadline and process.poll() is None, "the saver never started writing"
            time.sleep(0.002)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    leftovers = [name for name in os.listdir(tmp_path) if _TMP in name]
    assert leftovers, "the kill should have interrupted a save (temporary directory left behind)"

    latest = learner.restore_checkpoint(str(tmp_path), config, {"kind": "big"}, template=good)
    assert latest.counters["num_updates"] == int(latest.state.step) >= 5
    np.testing.assert_array_equal(latest.state.params["big"]["w"][:2, :4], np.full((2, 4), 3.0))
    previous = learner.restore_checkpoint(first, config, {"kind": "big"}, template=good)
    assert int(previous.state.step) == 5
    # The next save clears the debris.
    learner.save_checkpoint(str(tmp_path), good, {}, config, {"kind": "big"}, keep=1000)
    assert not [name for name in os.listdir(tmp_path) if _TMP in name]


def test_mismatched_config_is_refused_naming_the_field(tmp_path):
    config = learner.cartpole_config()
    learner.save_checkpoint(str(tmp_path), _state(config), {}, config, NETWORK, keep=1)
    with pytest.raises(learner.CheckpointMismatchError) as info:
        learner.restore_checkpoint(str(tmp_path), learner.cartpole_config(entropy_cost=0.02), NETWORK,
                                   template=_state(config))
    assert "entropy_cost=0.01" in str(info.value) and "entropy_cost=0.02" in str(info.value)
    assert isinstance(info.value, ValueError)
    # The loop's periods may change between runs.
    learner.restore_checkpoint(str(tmp_path), learner.cartpole_config(checkpoint_period_s=5.0), NETWORK,
                               template=_state(config))
    # A field added since (reward_scale) counts as its default in an older checkpoint, and only then.
    (checkpoint,) = learner.list_checkpoints(str(tmp_path))
    meta_path = os.path.join(checkpoint, "meta", "metadata")
    with open(meta_path) as f:
        meta = json.load(f)
    del meta["config"]["reward_scale"]
    with open(meta_path, "w") as f:
        json.dump(meta, f)
    learner.restore_checkpoint(str(tmp_path), config, NETWORK, template=_state(config))
    with pytest.raises(learner.CheckpointMismatchError, match="reward_scale=1.0 .* reward_scale=0.1"):
        learner.restore_checkpoint(str(tmp_path), learner.cartpole_config(reward_scale=0.1), NETWORK,
                                   template=_state(config))


def test_mismatched_network_is_refused_naming_the_field(tmp_path):
    config = learner.cartpole_config()
    learner.save_checkpoint(str(tmp_path), _state(config), {}, config, NETWORK, keep=1)
    other = dict(NETWORK, hidden_sizes=[16])
    with pytest.raises(learner.CheckpointMismatchError, match=r"hidden_sizes=\[8\].*hidden_sizes=\[16\]"):
        learner.restore_checkpoint(str(tmp_path), config, other, template=_state(config))
    with pytest.raises(learner.CheckpointMismatchError, match=r"\['head'\]\['w'\] has shape \(8, 3\)"):
        learner.restore_checkpoint(str(tmp_path), config, NETWORK, template=_state(config, size=16))


def test_missing_checkpoint_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no complete checkpoint"):
        learner.restore_checkpoint(str(tmp_path), learner.cartpole_config(), NETWORK,
                                   template=_state(learner.cartpole_config()))


def test_async_saves_return_before_they_are_final_and_keep_the_newest(tmp_path):
    config = learner.cartpole_config()
    writer = learner.CheckpointWriter(str(tmp_path), keep=2)
    try:
        paths = [writer.save(_state(config, step=step), {"num_updates": step}, config, NETWORK) for step in (1, 2, 3)]
        writer.wait()
    finally:
        writer.close()
    assert learner.list_checkpoints(str(tmp_path)) == paths[1:]
    assert learner.checkpoint_metadata(paths[-1])["counters"] == {"num_updates": 3}
    # Saving a step again (e.g. after skipped updates) replaces it; the copy moved aside is gone once final.
    writer = learner.CheckpointWriter(str(tmp_path), keep=2)
    writer.save(_state(config, step=3, scale=3.0), {"num_updates": 3, "num_skipped_updates": 1}, config, NETWORK)
    writer.close()
    assert sorted(os.listdir(tmp_path)) == ["ckpt_000000000002", "ckpt_000000000003"]
    np.testing.assert_array_equal(learner.load_params(str(tmp_path))["head"]["w"], -3.0 * np.ones((8, 3)))


def _write_layout_v1(directory, step=3):
    """A checkpoint as vtrax wrote it before orbax: ckpt-<step>/{arrays.npz, meta.json}."""
    path = directory / f"ckpt-{step:012d}"
    path.mkdir(parents=True)
    np.savez(path / "arrays.npz", a0=np.zeros(2, np.float32))
    (path / "meta.json").write_text(json.dumps({"format_version": 1, "step": step, "leaves": []}))
    return path


def test_a_checkpoint_of_the_older_layout_is_refused_in_one_sentence(tmp_path):
    old = _write_layout_v1(tmp_path / "checkpoints")
    config = learner.cartpole_config()
    calls = [lambda: learner.latest_checkpoint(str(tmp_path / "checkpoints")),
             lambda: learner.restore_checkpoint(str(tmp_path / "checkpoints"), config, NETWORK, template=_state(config)),
             lambda: learner.restore_checkpoint(str(old), config, NETWORK, template=_state(config)),
             lambda: learner.load_params(str(tmp_path / "checkpoints")),
             lambda: learner.checkpoint_metadata(str(old)),
             lambda: learner.save_checkpoint(str(tmp_path / "checkpoints"), _state(config), {}, config, NETWORK, keep=1)]
    for call in calls:
        with pytest.raises(learner.CheckpointMismatchError) as info:
            call()
        message = str(info.value)
        assert f"checkpoint {old} was written by an older vtrax (checkpoint layout v1); start a new run" in message
        assert message.endswith("to resume or evaluate it") and "\n" not in message


def test_the_learner_imports_and_trains_without_orbax():
    hide_orbax = textwrap.dedent("""
        import sys
        sys.modules["orbax"] = None  # as on a machine where orbax-checkpoint is not installed
        import numpy as np
        from vtrax import learner
        config = learner.cartpole_config(batch_size=2, unroll_length=3)
        network = learner.make_network("mlp", 2, hidden_sizes=(8,))
        batches = iter([learner.synthetic_batch(config, network, (4,), seed=0)] * 2)
        agent = learner.Learner(config, network, batches, lambda version, params: None, num_devices=1)
        agent.run(max_updates=2)
        assert "orbax.checkpoint" not in sys.modules
        print("trained", agent.version)
    """)
    result = subprocess.run([sys.executable, "-c", hide_orbax], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "trained 2"


@pytest.mark.parametrize("damage", ["truncate_arrays", "remove_metadata"])
def test_a_corrupt_newest_checkpoint_falls_back_to_the_one_before_and_says_so(tmp_path, damage):
    config = learner.cartpole_config()
    for step in (5, 9):
        learner.save_checkpoint(str(tmp_path), _state(config, step=step, scale=step), {"num_updates": step},
                                config, NETWORK, keep=3)
    newest = learner.latest_checkpoint(str(tmp_path))
    if damage == "remove_metadata":
        os.remove(os.path.join(newest, "meta", "metadata"))
    else:  # every array file of the params item cut to half its size, as a disk-full write leaves it
        for root, _, files in os.walk(os.path.join(newest, "params")):
            for name in files:
                path = os.path.join(root, name)
                with open(path, "r+b") as f:
                    f.truncate(os.path.getsize(path) // 2)
    restored = learner.restore_checkpoint(str(tmp_path), config, NETWORK, template=_state(config, step=0, scale=0))
    assert int(restored.state.step) == 5 and restored.counters == {"num_updates": 5}
    _assert_trees_equal(restored.state.params, _state(config, step=5, scale=5).params)
    assert len(restored.unreadable) == 1 and restored.unreadable[0].startswith("ckpt_000000000009 (")
    _assert_trees_equal(learner.load_params(str(tmp_path)), jax.device_get(_state(config, scale=5).params))
    assert os.path.isdir(newest), "the damaged checkpoint is left for the user to inspect"


def test_a_run_whose_every_checkpoint_is_corrupt_is_one_sentence(tmp_path):
    config = learner.cartpole_config()
    learner.save_checkpoint(str(tmp_path), _state(config, step=5), {}, config, NETWORK, keep=3)
    os.remove(os.path.join(learner.latest_checkpoint(str(tmp_path)), "meta", "metadata"))
    with pytest.raises(learner.CheckpointUnreadableError, match=r"no checkpoint under .* can be read, each is "
                       r"partial or corrupt: ckpt_000000000005 \(FileNotFoundError.*start a new run"):
        learner.restore_checkpoint(str(tmp_path), config, NETWORK, template=_state(config))


def test_a_checkpoint_for_another_network_is_refused_not_skipped(tmp_path):
    config = learner.cartpole_config()
    for step in (5, 9):
        learner.save_checkpoint(str(tmp_path), _state(config, step=step), {}, config, NETWORK, keep=3)
    with pytest.raises(learner.CheckpointMismatchError):
        learner.restore_checkpoint(str(tmp_path), config, {**NETWORK, "hidden_sizes": [16]},
                                   template=_state(config))
