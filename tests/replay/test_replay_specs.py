"""Step specs, TableConfig and the slab/sequence helpers: numpy only, no server."""

import json
import subprocess
import sys

import numpy as np
import pytest

from vtrax import replay


def test_impala_step_spec_fields_shapes_and_dtypes():
    spec = replay.impala_step_spec((84, 84, 4), np.uint8, 6, core_state_shapes={"hidden": (256,), "cell": (256,)})
    assert spec == {
        "observation": replay.FieldSpec((84, 84, 4), np.dtype(np.uint8)),
        "action": replay.FieldSpec((), np.dtype(np.int32)),
        "reward": replay.FieldSpec((), np.dtype(np.float32)),
        "discount": replay.FieldSpec((), np.dtype(np.float32)),
        "valid": replay.FieldSpec((), np.dtype(np.bool_)),
        "behaviour_logits": replay.FieldSpec((6,), np.dtype(np.float32)),
        "param_version": replay.FieldSpec((), np.dtype(np.int32)),
        "core_state/hidden": replay.FieldSpec((256,), np.dtype(np.float32)),
        "core_state/cell": replay.FieldSpec((256,), np.dtype(np.float32)),
        "prev_action": replay.FieldSpec((), np.dtype(np.int32)),  # the core's other inputs
        "prev_reward": replay.FieldSpec((), np.dtype(np.float32)),
    }
    assert replay.step_nbytes(replay.impala_step_spec((4,), np.float32, 2)) == 4 * 4 + 4 + 4 + 4 + 1 + 2 * 4 + 4


def test_impala_step_spec_rejects_no_actions():
    with pytest.raises(ValueError, match="num_actions must be >= 1, got 0"):
        replay.impala_step_spec((4,), np.float32, 0)


def _config(**overrides):
    fields = dict(kind="queue", name="impala", step_spec=replay.impala_step_spec((4,), np.float32, 2),
                  num_envs=16, unroll_length=20, max_size=64)
    return replay.TableConfig(**{**fields, **overrides})


def test_table_config_json_round_trip():
    config = _config(kind="prioritized", priority_exponent=0.8, samples_per_insert=4.0, min_size_to_sample=10)
    data = json.loads(json.dumps(config.to_json()))
    assert replay.TableConfig.from_json(data) == config
    assert config.sequence_length == 21


@pytest.mark.parametrize("overrides, message", [
    (dict(kind="fifo"), "table kind must be one of"),
    (dict(name=""), "table name must be a non-empty string"),
    (dict(num_envs=0), "num_envs must be >= 1, got 0"),
    (dict(unroll_length=0), "unroll_length must be >= 1, got 0"),
    (dict(max_size=4, min_size_to_sample=5), r"min_size_to_sample \(5\) must be <= max_size \(4\)"),
    (dict(samples_per_insert=0.0), "samples_per_insert must be > 0"),
    (dict(step_spec={}), "step_spec is empty"),
    (dict(step_spec={"observation": "float32"}), r"step_spec\['observation'\] must be a FieldSpec"),
])
def test_table_config_errors_name_the_problem(overrides, message):
    with pytest.raises(ValueError, match=message):
        _config(**overrides)


def test_split_slabs_orders_sequences_by_item_then_env():
    # items[k, t, e] = 100 k + 10 e + t
    k, t, e = np.meshgrid(np.arange(2), np.arange(4), np.arange(3), indexing="ij")
    items = {"x": (100 * k + 10 * e + t).astype(np.int32)}  # [2, T+1=4, E=3]
    sequences = replay.split_slabs(items)["x"]  # [6, 4]
    expected = np.array([[100 * (i // 3) + 10 * (i % 3) + step for step in range(4)] for i in range(6)])
    np.testing.assert_array_equal(sequences, expected)


def test_sequence_buffer_keeps_leftovers_in_order():
    buffer = replay.SequenceBuffer()
    buffer.add({"x": np.arange(5), "y": np.arange(5) * 10})
    buffer.add({"x": np.arange(5, 7), "y": np.arange(5, 7) * 10})
    first = buffer.take(3)
    second = buffer.take(3)
    np.testing.assert_array_equal(first["x"], [0, 1, 2])
    np.testing.assert_array_equal(second["x"], [3, 4, 5])
    np.testing.assert_array_equal(second["y"], [30, 40, 50])
    assert len(buffer) == 1
    with pytest.raises(ValueError, match="asked for 2 sequences but only 1 are buffered"):
        buffer.take(2)


def test_to_device_batch_shapes():
    batch = replay.to_device_batch({"x": np.zeros((12, 6, 2))}, num_devices=4)
    assert batch["x"].shape == (4, 3, 6, 2)


def test_server_process_needs_a_complete_table_description():
    with pytest.raises(ValueError, match=r"needs \['max_size', 'unroll_length'\]"):
        replay.ReplayServerProcess(kind="queue", table="t", step_spec=replay.impala_step_spec((4,), np.float32, 2),
                                   num_envs=2)


def test_light_names_import_no_reverb_or_tensorflow():
    code = ("import sys, replay\n"
            "replay.impala_step_spec((4,), 'float32', 2); replay.TableConfig; replay.ReplayServerProcess\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('reverb', 'tensorflow')))\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"
