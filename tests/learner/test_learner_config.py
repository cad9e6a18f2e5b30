"""LearnerConfig: presets, validation messages, dict round trip; the optimiser it describes."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from vtrax import learner
from vtrax.learner.config import ATARI_TOTAL_UPDATES


def test_atari_preset_has_impalas_published_values():
    config = learner.atari_config()
    assert (config.batch_size, config.unroll_length, config.discount) == (32, 20, 0.99)
    assert (config.optimizer, config.learning_rate) == ("rmsprop", 6e-4)
    assert (config.rmsprop_decay, config.rmsprop_eps, config.rmsprop_momentum) == (0.99, 0.01, 0.0)
    assert (config.max_gradient_norm, config.entropy_cost, config.baseline_cost) == (40.0, 0.01, 0.5)
    assert (config.reward_clipping, config.lr_decay, config.loss_reduction) == ("abs_one", True, "sum")
    assert config.total_updates == ATARI_TOTAL_UPDATES == 78125  # 200M frames / 4 action repeat / 640


def test_cartpole_preset_and_overrides():
    assert (learner.cartpole_config().optimizer, learner.cartpole_config().learning_rate) == ("rmsprop", 3e-3)
    config = learner.cartpole_config(learning_rate=1e-3, batch_size=64)
    assert (config.optimizer, config.learning_rate, config.batch_size) == ("rmsprop", 1e-3, 64)
    assert learner.frames_per_update(config) == 64 * 20
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.learning_rate = 1.0


@pytest.mark.parametrize("field, value, words", [
    ("batch_size", 0, "batch_size must be an int >= 1, got 0"),
    ("unroll_length", 2.5, "unroll_length must be an int >= 1, got 2.5"),
    ("optimizer", "sgd", "optimizer must be one of ('rmsprop', 'adam'), got 'sgd'"),
    ("reward_clipping", "clip", "reward_clipping must be one of"),
    ("baseline", "mc", "baseline must be one of ('vtrace', 'td_lambda')"),
    ("discount", 1.5, "discount must be in [0.0, 1.0], got 1.5"),
    ("learning_rate", 0.0, "learning_rate must be > 0, got 0.0"),
    ("max_gradient_norm", -1.0, "max_gradient_norm must be > 0 (or None"),
    ("entropy_cost", -0.1, "entropy_cost must be >= 0, got -0.1"),
])
def test_invalid_values_raise_naming_the_field_and_value(field, value, words):
    with pytest.raises(ValueError) as info:
        learner.LearnerConfig(**{field: value})
    assert words in str(info.value)


def test_every_field_has_a_one_line_help_text():
    help_texts = learner.field_help()
    assert set(help_texts) == {field.name for field in dataclasses.fields(learner.LearnerConfig)}
    assert all(text and "\n" not in text for text in help_texts.values())
    assert help_texts["unroll_length"].startswith("Time steps T")


def test_lr_decay_needs_total_updates():
    with pytest.raises(ValueError, match="lr_decay=True needs total_updates"):
        learner.LearnerConfig(lr_decay=True)


def test_dict_round_trip_and_unknown_field():
    config = learner.atari_config(seed=7)
    assert learner.LearnerConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ValueError, match=r"unknown LearnerConfig fields \['learning_rte'\]"):
        learner.LearnerConfig.from_dict({"learning_rte": 1e-3})


def test_learning_rate_decays_linearly_to_zero():
    schedule = learner.learning_rate_schedule(learner.LearnerConfig(learning_rate=1e-3, lr_decay=True,
                                                                    total_updates=100))
    np.testing.assert_allclose([schedule(0), schedule(50), schedule(100), schedule(200)], [1e-3, 5e-4, 0, 0],
                               atol=1e-9)
    constant = learner.learning_rate_schedule(learner.LearnerConfig(learning_rate=1e-3))
    assert float(constant(10_000)) == pytest.approx(1e-3)


def test_rmsprop_step_matches_tf1_formula_after_global_norm_clipping():
    """IMPALA's RMSProp: ms starts at 1, eps inside the sqrt; gradients clipped to norm 40 first."""
    config = learner.atari_config()
    optimizer = learner.make_optimizer(config)
    params = {"w": jnp.zeros(3)}
    grads = {"w": jnp.array([300.0, -400.0, 0.0])}  # norm 500 -> scaled by 40/500
    updates, _ = optimizer.update(grads, optimizer.init(params), params)
    g = np.array([300.0, -400.0, 0.0]) * 40.0 / 500.0
    mean_square = 0.99 * 1.0 + 0.01 * g**2
    np.testing.assert_allclose(updates["w"], -6e-4 * g / np.sqrt(mean_square + 0.01), rtol=1e-5)


def test_adam_without_clipping_is_plain_adam():
    config = learner.cartpole_config(optimizer="adam", learning_rate=2e-3, max_gradient_norm=None)
    optimizer = learner.make_optimizer(config)
    params = {"w": jnp.zeros(2)}
    updates, _ = optimizer.update({"w": jnp.array([1e4, -1e-3])}, optimizer.init(params), params)
    # First Adam step is lr * sign(g) (up to eps) whatever the gradient's size.
    np.testing.assert_allclose(updates["w"], [-2e-3, 2e-3], rtol=1e-3)
    assert jax.tree_util.tree_structure(updates) == jax.tree_util.tree_structure(params)
