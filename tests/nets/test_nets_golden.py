"""Parameter trees are pinned by golden JSON files (module path, name, shape, dtype).

Parameter names and shapes are the wire format between learner, actors and
checkpoints, so any drift fails here. To accept an intended change, run

    VTRAX_REGENERATE_GOLDEN=1 .venv/bin/python -m pytest tests/nets/test_nets_golden.py

and commit the rewritten files in tests/nets/golden/.

The layer cases use the configurations of dm-haiku's own integration
checkpoints (haiku/_src/integration/checkpoints/*.json), and
`test_haiku_published_layouts` repeats those published trees inline, so a
regenerated golden file can never silently drift away from Haiku.
"""

import json
import os
import pathlib

import jax
import jax.numpy as jnp
import pytest

from vtrax import nets

GOLDEN_DIR = pathlib.Path(__file__).parent / "golden"
REGENERATE_ENV = "VTRAX_REGENERATE_GOLDEN"
KEY = jax.random.PRNGKey(0)
f32, u8, s32 = jnp.float32, jnp.uint8, jnp.int32
spec = jax.ShapeDtypeStruct


def _unroll(core_fn, unroll_fn=nets.dynamic_unroll):
    def f(xs):
        core = core_fn()
        return unroll_fn(core, xs, core.initial_state(xs.shape[1]))
    return f


def _reset_unroll(xs, resets):
    core = nets.ResetCore(nets.LSTM(4))
    return nets.dynamic_unroll(core, (xs, resets), core.initial_state(xs.shape[1]))


def _impala_unroll(torso):
    def f(obs, resets):
        net = nets.ImpalaNet(6, torso=torso, use_lstm=True)
        return net.unroll(obs, resets, net.initial_state(obs.shape[1]))
    return f


def _impala_unroll_prev(obs, resets, prev_action, prev_reward):
    net = nets.ImpalaNet(6, torso="shallow", use_lstm=True, prev_action_reward=True)
    return net.unroll(obs, resets, net.initial_state(obs.shape[1]), prev_action=prev_action, prev_reward=prev_reward)


def _recurrent_mlp_unroll(obs, resets, prev_action, prev_reward):
    net = nets.RecurrentMLPNet(2, lstm_size=32)
    return net.unroll(obs, resets, net.initial_state(obs.shape[1]), prev_action=prev_action, prev_reward=prev_reward)


# name -> (description, function, input specs)
CASES = {
    "linear": ("Linear(output_size=10) on f32[8, 1]", lambda x: nets.Linear(10)(x), [spec((8, 1), f32)]),
    "mlp": ("MLP(output_sizes=[3, 4, 5]) on f32[8, 3]", lambda x: nets.MLP([3, 4, 5])(x), [spec((8, 3), f32)]),
    "sequential": ("Sequential([Linear(3), relu, Linear(2)]) on f32[8, 4]",
                   lambda x: nets.Sequential([nets.Linear(3), jax.nn.relu, nets.Linear(2)])(x), [spec((8, 4), f32)]),
    "conv2_d": ("Conv2D(output_channels=3, kernel_shape=3) on f32[8, 2, 2, 2]",
                lambda x: nets.Conv2D(3, 3)(x), [spec((8, 2, 2, 2), f32)]),
    "layer_norm": ("LayerNorm(axis=1, create_scale=True, create_offset=True) on f32[8, 3, 2]",
                   lambda x: nets.LayerNorm(1, True, True)(x), [spec((8, 3, 2), f32)]),
    "embed": ("Embed(vocab_size=6, embed_dim=12) on s32[8]", lambda x: nets.Embed(6, 12)(x), [spec((8,), s32)]),
    "lstm": ("dynamic_unroll(LSTM(hidden_size=1)) on f32[2, 8, 128]", _unroll(lambda: nets.LSTM(1)),
             [spec((2, 8, 128), f32)]),
    "gru": ("static_unroll(GRU(hidden_size=1)) on f32[2, 8, 128]",
            _unroll(lambda: nets.GRU(1), nets.static_unroll), [spec((2, 8, 128), f32)]),
    "reset_core": ("dynamic_unroll(ResetCore(LSTM(4))) on f32[2, 8, 3], bool[2, 8]", _reset_unroll,
                   [spec((2, 8, 3), f32), spec((2, 8), jnp.bool_)]),
    "policy_value_mlp": ("PolicyValueMLP(num_actions=2) on f32[16, 4] (CartPole)",
                         lambda x: nets.PolicyValueMLP(2)(x), [spec((16, 4), f32)]),
    "impala_net_deep": ("ImpalaNet(num_actions=6, torso='deep') on u8[2, 84, 84, 4]",
                        lambda x: nets.ImpalaNet(6)(x), [spec((2, 84, 84, 4), u8)]),
    "impala_net_shallow": ("ImpalaNet(num_actions=6, torso='shallow') on u8[2, 84, 84, 4]",
                           lambda x: nets.ImpalaNet(6, torso="shallow")(x), [spec((2, 84, 84, 4), u8)]),
    "impala_net_deep_lstm": ("ImpalaNet(6, torso='deep', use_lstm=True).unroll on u8[3, 2, 84, 84, 4]",
                             _impala_unroll("deep"), [spec((3, 2, 84, 84, 4), u8), spec((3, 2), jnp.bool_)]),
    "impala_net_shallow_lstm": ("ImpalaNet(6, torso='shallow', use_lstm=True).unroll on u8[3, 2, 84, 84, 4]",
                                _impala_unroll("shallow"), [spec((3, 2, 84, 84, 4), u8), spec((3, 2), jnp.bool_)]),
    "impala_net_shallow_lstm_prev": (
        "ImpalaNet(6, torso='shallow', use_lstm=True, prev_action_reward=True).unroll on u8[3, 2, 84, 84, 4]",
        _impala_unroll_prev, [spec((3, 2, 84, 84, 4), u8), spec((3, 2), jnp.bool_), spec((3, 2), s32),
                              spec((3, 2), f32)]),
    "impala_net_minatar": ("ImpalaNet(num_actions=3, torso='minatar') on u8[2, 10, 10, 4] (MinAtar Breakout)",
                           lambda x: nets.ImpalaNet(3, torso="minatar")(x), [spec((2, 10, 10, 4), u8)]),
    "recurrent_mlp_net": ("RecurrentMLPNet(2, lstm_size=32).unroll on f32[3, 16, 4] (CartPole)",
                          _recurrent_mlp_unroll, [spec((3, 16, 4), f32), spec((3, 16), jnp.bool_),
                                                  spec((3, 16), s32), spec((3, 16), f32)]),
}


def param_entries(fn, inputs):
    """Sorted [{module, name, shape, dtype}] of the params `init` creates, without computing them."""
    params = jax.eval_shape(nets.transform(fn).init, KEY, *inputs)
    return sorted(({"module": path, "name": name, "shape": list(value.shape), "dtype": jnp.dtype(value.dtype).name}
                   for path, bundle in params.items() for name, value in bundle.items()),
                  key=lambda e: (e["module"], e["name"]))


def format_golden(description, entries):
    """One parameter per line, so diffs of golden files read like the drift message."""
    rows = ",\n".join("  " + json.dumps(entry) for entry in entries)
    return f'{{"description": {json.dumps(description)},\n "params": [\n{rows}\n]}}\n'


def describe_drift(name, expected, actual):
    key = lambda e: (e["module"], e["name"])
    expected_by_key, actual_by_key = {key(e): e for e in expected}, {key(e): e for e in actual}
    lines = [f"Parameter tree of '{name}' drifted from tests/nets/golden/{name}.json:"]
    lines += [f"  removed {'/'.join(k)} {expected_by_key[k]['dtype']}{expected_by_key[k]['shape']}"
              for k in sorted(set(expected_by_key) - set(actual_by_key))]
    lines += [f"  added   {'/'.join(k)} {actual_by_key[k]['dtype']}{actual_by_key[k]['shape']}"
              for k in sorted(set(actual_by_key) - set(expected_by_key))]
    lines += [f"  changed {'/'.join(k)} {expected_by_key[k]['dtype']}{expected_by_key[k]['shape']} -> "
              f"{actual_by_key[k]['dtype']}{actual_by_key[k]['shape']}"
              for k in sorted(set(expected_by_key) & set(actual_by_key)) if expected_by_key[k] != actual_by_key[k]]
    lines.append(f"Parameter trees are the wire format between learner, actors and checkpoints. If the change is "
                 f"intended, regenerate with `{REGENERATE_ENV}=1 .venv/bin/python -m pytest "
                 f"tests/nets/test_nets_golden.py` and commit tests/nets/golden/{name}.json.")
    return "\n".join(lines)


@pytest.mark.parametrize("name", sorted(CASES))
def test_parameter_tree_matches_golden_file(name):
    description, fn, inputs = CASES[name]
    actual = param_entries(fn, inputs)
    path = GOLDEN_DIR / f"{name}.json"
    if os.environ.get(REGENERATE_ENV) == "1":
        path.write_text(format_golden(description, actual))
    assert path.exists(), (f"Missing golden file {path}; create it with `{REGENERATE_ENV}=1 .venv/bin/python -m "
                           "pytest tests/nets/test_nets_golden.py`.")
    golden = json.loads(path.read_text())
    assert golden["description"] == description, f"{path} describes a different model; regenerate it."
    assert golden["params"] == actual, describe_drift(name, golden["params"], actual)


def test_every_golden_file_has_a_case():
    stale = sorted(p.stem for p in GOLDEN_DIR.glob("*.json") if p.stem not in CASES)
    assert not stale, f"Golden files without a test case (delete them or add a case): {stale}"


def test_drift_message_says_what_changed_and_how_to_regenerate():
    old = [{"module": "linear", "name": "w", "shape": [3, 4], "dtype": "float32"}]
    new = [{"module": "linear", "name": "w", "shape": [3, 5], "dtype": "float32"},
           {"module": "linear", "name": "b", "shape": [5], "dtype": "float32"}]
    message = describe_drift("linear", old, new)
    assert "added   linear/b float32[5]" in message
    assert "changed linear/w float32[3, 4] -> float32[3, 5]" in message
    assert f"{REGENERATE_ENV}=1" in message


# Published by dm-haiku in haiku/_src/integration/checkpoints/{Linear,nets.MLP,Conv2D,LayerNorm,Embed,
# Recurrent-LSTM-dynamic_unroll,Recurrent-GRU-static_unroll}.json for the same constructors and inputs.
HAIKU_PUBLISHED = {
    "linear": {"linear": {"b": [10], "w": [1, 10]}},
    "mlp": {"mlp/~/linear_0": {"b": [3], "w": [3, 3]}, "mlp/~/linear_1": {"b": [4], "w": [3, 4]},
            "mlp/~/linear_2": {"b": [5], "w": [4, 5]}},
    "conv2_d": {"conv2_d": {"b": [3], "w": [3, 3, 2, 3]}},
    "layer_norm": {"layer_norm": {"offset": [2], "scale": [2]}},
    "embed": {"embed": {"embeddings": [6, 12]}},
    "lstm": {"lstm/linear": {"b": [4], "w": [129, 4]}},
    "gru": {"gru": {"b": [3], "w_h": [1, 3], "w_i": [128, 3]}},
}


@pytest.mark.parametrize("name", sorted(HAIKU_PUBLISHED))
def test_haiku_published_layouts(name):
    _, fn, inputs = CASES[name]
    tree = {}
    for entry in param_entries(fn, inputs):
        assert entry["dtype"] == "float32"
        tree.setdefault(entry["module"], {})[entry["name"]] = entry["shape"]
    assert tree == HAIKU_PUBLISHED[name]
