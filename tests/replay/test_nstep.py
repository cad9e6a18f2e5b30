"""n-step transitions (pure numpy) against hand-computed values, and the NStepAdder on a real Reverb server."""

import numpy as np
import pytest
from replay_testlib import start_transition_server

from vtrax import replay

GAMMA = 0.9


def _step(t, *, valid=(True, True, True), discount=(1.0, 1.0, 1.0)):
    """Step t of three envs: observation (t, env), reward t + 1 (+ 10 * env), action t % 2."""
    envs = np.arange(3)
    return {"observation": np.stack([np.full(3, t), envs], -1).astype(np.float32),
            "action": np.full(3, t % 2, np.int32), "reward": (t + 1 + 10 * envs).astype(np.float32),
            "discount": np.asarray(discount, np.float32), "valid": np.asarray(valid, bool),
            "param_version": np.full(3, 7, np.int32)}


def test_three_step_transitions_cut_at_termination_and_truncation():
    # env 0 runs on; env 1 terminates at step 1 (step 2 invalid); env 2 is truncated at step 0 (step 1 invalid).
    window = [_step(0, discount=(1, 1, 1)), _step(1, discount=(1, 0, 0), valid=(True, True, False)),
              _step(2, valid=(True, False, True)), _step(3)]
    out = replay.n_step_transition(window, GAMMA)
    np.testing.assert_allclose(out["reward"], [1 + GAMMA * 2 + GAMMA**2 * 3, 11 + GAMMA * 12, 21], rtol=1e-6)
    np.testing.assert_allclose(out["discount"], [GAMMA**3, 0.0, GAMMA], rtol=1e-6)
    # env 0 bootstraps from o_3, env 1 (terminated) from the final observation at step 2 (weight 0),
    # env 2 (truncated after step 0) from its final observation at step 1.
    np.testing.assert_array_equal(out["next_observation"][:, 0], [3, 2, 1])
    np.testing.assert_array_equal(out["observation"][:, 0], [0, 0, 0])
    assert out["valid"].all() and out["param_version"].tolist() == [7, 7, 7]


def test_the_transition_of_an_invalid_step_is_invalid_and_carries_nothing():
    window = [_step(0, valid=(False, True, True)), _step(1)]
    out = replay.n_step_transition(window, GAMMA)
    assert out["valid"].tolist() == [False, True, True]
    assert out["reward"][0] == 0.0 and out["discount"][0] == 0.0
    np.testing.assert_allclose(out["reward"][1:], [11, 21])
    np.testing.assert_allclose(out["discount"][1:], GAMMA)


def test_one_step_window_is_refused():
    with pytest.raises(ValueError, match="needs n \\+ 1 >= 2 steps"):
        replay.n_step_transition([_step(0)], GAMMA)


def test_nstep_adder_writes_one_item_per_step_once_the_window_is_full():
    server = start_transition_server("transitions", num_envs=3, observation_size=2)
    try:
        adder = replay.NStepAdder(server.address, "transitions", (2,), np.float32, 3, n_step=2, discount=GAMMA,
                                  priority=2.5)
        for t in range(6):
            adder.append({**_step(t), "behaviour_logits": np.zeros((3, 2), np.float32)})  # extra fields ignored
        adder.close()
        assert replay.info(server.address)["transitions"]["current_size"] == 4  # steps 0..3 have 2 successors
        with replay.ReplayDataset(server.address, "transitions", batch_size=12, prefetch=1) as dataset:
            batch = next(dataset)
        assert batch["observation"].shape == (1, 12, 1, 2) and batch["next_observation"].shape == (1, 12, 1, 2)
        first = batch["observation"][0, :, 0, 0]
        np.testing.assert_array_equal(batch["next_observation"][0, :, 0, 0], first + 2)
        np.testing.assert_allclose(batch["reward"][0, :, 0], (first + 1) + GAMMA * (first + 2)
                                   + 10 * batch["observation"][0, :, 0, 1] * (1 + GAMMA), rtol=1e-6)
        np.testing.assert_allclose(batch["info/priority"], 2.5)
    finally:
        server.stop(final_checkpoint=False)
