"""Module names and parameter sharing follow Haiku's rules exactly."""

import jax
import jax.numpy as jnp
import pytest

from vtrax import nets
from vtrax.nets.module import camel_to_snake

KEY = jax.random.PRNGKey(0)


def param_shapes(f, *inputs):
    params = nets.transform(f).init(KEY, *inputs)
    return {path: {name: tuple(v.shape) for name, v in bundle.items()} for path, bundle in params.items()}


@pytest.mark.parametrize("class_name, snake", [
    ("Linear", "linear"), ("Conv2D", "conv2_d"), ("MLP", "mlp"), ("LayerNorm", "layer_norm"), ("LSTM", "lstm"),
    ("GRU", "gru"), ("ResetCore", "reset_core"), ("ImpalaDeepTorso", "impala_deep_torso"),
    ("PolicyValueMLP", "policy_value_mlp"), ("BatchNorm", "batch_norm"),
])
def test_class_names_become_snake_case_like_haiku(class_name, snake):
    assert camel_to_snake(class_name) == snake


def test_second_instance_gets_numbered_suffix_and_own_parameters():
    def f(x):
        return nets.Linear(2)(x) + nets.Linear(2)(x) + nets.Conv2D(2, 1)(x[:, None, None, :])[:, 0, 0, :]

    shapes = param_shapes(f, jnp.ones([1, 3]))
    assert list(shapes) == ["linear", "linear_1", "conv2_d"]


def test_same_instance_called_twice_shares_parameters():
    def f(x):
        layer = nets.Linear(3)
        return layer(layer(x))

    params = nets.transform(f).init(KEY, jnp.ones([2, 3]))
    assert list(params) == ["linear"]
    out = nets.transform(f).apply(params, None, jnp.ones([2, 3]))
    w, b = params["linear"]["w"], params["linear"]["b"]
    expected = (jnp.ones([2, 3]) @ w + b[None]) @ w + b[None]
    assert jnp.allclose(out, expected, atol=1e-6)


class Outer(nets.Module):
    def __init__(self, name=None):
        super().__init__(name=name)
        self.in_init = nets.Linear(2)

    def __call__(self, x):
        return self.in_init(x) + nets.Linear(2)(x) + self.encode(x)

    def encode(self, x):
        return nets.Linear(2)(x)


def test_nested_names_follow_creating_method():
    shapes = param_shapes(lambda x: Outer()(x), jnp.ones([1, 3]))
    assert set(shapes) == {"outer/~/linear", "outer/linear", "outer/~encode/linear"}


def test_mlp_layers_are_named_linear_i_under_tilde():
    shapes = param_shapes(lambda x: nets.MLP([4, 5])(x), jnp.ones([1, 3]))
    assert shapes == {"mlp/~/linear_0": {"w": (3, 4), "b": (4,)}, "mlp/~/linear_1": {"w": (4, 5), "b": (5,)}}


def test_explicit_number_bumps_the_counter_like_haiku():
    def f(x):
        nets.Linear(1, name="linear_3")(x)
        return nets.Linear(1)(x) + nets.Linear(1, name="linear")(x)

    # "linear" (counter 0) was never used, but linear_3 moved the counter to 4.
    assert list(param_shapes(f, jnp.ones([1, 2]))) == ["linear_3", "linear_4", "linear_5"]


def test_submodule_created_in_call_is_reused_across_calls():
    class Block(nets.Module):
        def __call__(self, x):
            return nets.Linear(2)(x)

    def f(x):
        block = Block()
        return block(block(x))

    shapes = param_shapes(f, jnp.ones([1, 2]))
    assert list(shapes) == ["block/linear"]


def test_repeated_explicit_name_is_numbered_but_repeated_explicit_number_is_an_error():
    def numbered(x):
        nets.Linear(1, name="head")(x)
        nets.Linear(1, name="head")(x)

    assert list(param_shapes(numbered, jnp.ones([1, 2]))) == ["head", "head_1"]

    def clash(x):
        nets.Linear(1, name="head_0")(x)
        nets.Linear(1, name="head_0")(x)

    with pytest.raises(nets.ModuleNameError, match="'head_0' is not unique"):
        nets.transform(clash).init(KEY, jnp.ones([1, 2]))


def test_invalid_name_raises_module_name_error():
    with pytest.raises(nets.ModuleNameError, match="not a valid module name"):
        nets.transform(lambda x: nets.Linear(1, name="a/b")(x)).init(KEY, jnp.ones([1, 2]))


def test_forgetting_super_init_is_explained():
    class Broken(nets.Module):
        def __init__(self):
            self.size = 1

    with pytest.raises(nets.ModuleNameError, match=r"super\(\).__init__\(name=name\)"):
        nets.transform(lambda: Broken()).init(KEY)


def test_top_level_parameters_live_under_tilde_and_params_dict_lists_submodules():
    def f(x):
        scale = nets.get_parameter("scale", [], init=jnp.ones)
        outer = Outer()
        y = outer(x)
        assert set(outer.params_dict()) == {
            "outer/~/linear/w", "outer/~/linear/b", "outer/linear/w", "outer/linear/b",
            "outer/~encode/linear/w", "outer/~encode/linear/b"}
        assert nets.current_name() == "~"
        return scale * y

    params = nets.transform(f).init(KEY, jnp.ones([1, 3]))
    assert params["~"]["scale"].shape == ()


def test_module_attributes_name_and_module_name():
    def f():
        outer = Outer(name="encoder")
        return outer.module_name, outer.name, outer.in_init.module_name, outer.in_init.name

    names = nets.transform(f).apply({}, None)
    assert names == ("encoder", "encoder", "encoder/~/linear", "linear")
